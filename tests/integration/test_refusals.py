"""What an anonymous client is told: not_authorized whatever exists, and invalid_argument for arguments
a procedure cannot take, with the component still serving and no traceback in the node log."""

import pytest
from autobahn.wamp.exception import ApplicationError

NOT_AUTHORIZED = "wamp.error.not_authorized"
INVALID_ARGUMENT = "switchboard.error.invalid_argument"


def error_of(fn, *args, **kwargs):
    with pytest.raises(ApplicationError) as info:
        fn(*args, **kwargs)
    return info.value.error


@pytest.mark.parametrize("procedure", ["demo.add2", "chat.post", "history.get", "switchboard.auth.ticket"])
def test_registering_an_existing_procedure_is_not_authorized_like_any_other(switchboard_client, procedure):
    assert error_of(switchboard_client.register, procedure, lambda: None) == NOT_AUTHORIZED
    assert error_of(switchboard_client.register, procedure + "_none", lambda: None) == NOT_AUTHORIZED


@pytest.mark.parametrize(
    "existing, missing",
    [
        ("switchboard.auth.authorize", "switchboard.auth.nothing"),
        ("switchboard.auth.ticket", "switchboard.auth.tickets"),
    ],
)
def test_a_procedure_one_may_not_call_is_not_authorized_whether_it_exists_or_not(switchboard_hub, existing, missing):
    with switchboard_hub.backend_client() as backend:  # the backend may see what exists
        assert backend.call("wamp.registration.lookup", existing) is not None
        assert backend.call("wamp.registration.lookup", missing) is None
    with switchboard_hub.client() as c:
        assert error_of(c.call, existing) == error_of(c.call, missing) == NOT_AUTHORIZED


@pytest.mark.parametrize(
    "procedure, args, kwargs",
    [
        ("chat.rooms", (), {"bogus": 5}),
        ("chat.rooms", (1,), {}),
        ("demo.add2", (1, 2, 3), {}),
        ("demo.add2", (1,), {"c": 2}),
        ("chat.post", ("lobby", "hi", "ann", "extra"), {}),
        ("presence.list", ("lobby",), {"details": 1}),
        ("history.get", ("chat.room.lobby",), {"bogus": 1}),
    ],
)
def test_arguments_a_procedure_cannot_take_are_invalid_argument(switchboard_hub, procedure, args, kwargs):
    with switchboard_hub.client() as c:
        with pytest.raises(ApplicationError) as info:
            c.call(procedure, *args, **kwargs)
        assert info.value.error == INVALID_ARGUMENT and info.value.args[0].startswith(f"{procedure} takes (")
        assert c.call("demo.add2", 2, 3) == 5
        assert isinstance(c.call("chat.rooms"), list)
    assert "Traceback" not in switchboard_hub.log_text()
    assert "TypeError" not in switchboard_hub.log_text()

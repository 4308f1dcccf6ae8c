"""A container component moved into the router worker
(switchboard.router.settings.move_into_router) serves as before."""

import pytest
from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import uris
from switchboard.router import settings as S
from switchboard.router.testing.hub import Hub


@pytest.fixture(scope="module")
def hub_with_demo_in_router(tmp_path_factory):
    config = S.load_config(S.CONFIG_FILE)
    S.move_into_router(config, "demo")
    assert "demo" not in {w.get("id") for w in config["workers"]}
    with Hub.started(tmp_path_factory.mktemp("hub"), config=config) as hub:
        yield hub


def test_the_moved_component_answers_calls_and_rejects_bad_input(hub_with_demo_in_router):
    with hub_with_demo_in_router.client() as c:
        assert c.call("demo.add2", 40, 2) == 42
        with pytest.raises(ApplicationError) as info:
            c.call("demo.add2", "x", 2)
        assert info.value.error == uris.INVALID_ARGUMENT
        assert c.call("demo.add2", 1, 2) == 3, "a rejected call leaves the component serving"


def test_the_moved_component_is_a_backend_session_inside_the_router(hub_with_demo_in_router):
    with hub_with_demo_in_router.backend_client() as backend:
        registration = backend.call("wamp.registration.lookup", "demo.add2")
        callee = backend.call("wamp.registration.list_callees", registration)[0]
        session = backend.call("wamp.session.get", callee)
    assert session["authrole"] == S.BACKEND_ROLE
    assert not (session.get("transport") or {}).get("peer"), f"a router component has no network peer: {session}"


def test_the_other_components_stay_in_their_workers(hub_with_demo_in_router):
    assert hub_with_demo_in_router.component_pid("chat.post") > 0
    log = hub_with_demo_in_router.log_text()
    assert "Traceback" not in log

"""switchboard.router.services.arguments: a call that does not bind to the signature is invalid_argument,
before the call."""

import inspect

import pytest
from autobahn.wamp.exception import ApplicationError
from switchboard.router.services.arguments import checked


def add2(a=None, b=None):
    return a + b


def run_to_end(coroutine):
    """Run a coroutine that never awaits anything pending, without an event loop (the browser tests
    keep one running in this thread, and asyncio.run refuses to start beside it)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("the coroutine waited on something")


@pytest.mark.parametrize("args, kwargs", [((1, 2, 3), {}), ((1,), {"timeout": 5}), ((), {"a": 1, "c": 2})])
def test_arguments_that_do_not_bind_are_invalid_argument(args, kwargs):
    with pytest.raises(ApplicationError) as info:
        checked(add2, "demo.add2")(*args, **kwargs)
    assert info.value.error == "switchboard.error.invalid_argument"
    assert info.value.args[0].startswith("demo.add2 takes (a=None, b=None): ")


def test_a_call_that_binds_reaches_the_procedure_and_its_own_type_errors_stay_faults():
    assert checked(add2, "demo.add2")(2, b=3) == 5
    with pytest.raises(TypeError):
        checked(add2, "demo.add2")(1, "x")


def test_coroutines_stay_coroutine_functions_and_details_is_not_shown():
    async def post(room=None, details=None):
        return room, details

    wrapped = checked(post, "chat.post", details_arg="details")
    assert inspect.iscoroutinefunction(wrapped)
    assert run_to_end(wrapped("lobby", details="d")) == ("lobby", "d")
    with pytest.raises(ApplicationError) as info:
        run_to_end(wrapped("lobby", "text", details="d"))  # autobahn passes details by name
    assert "chat.post takes (room=None):" in info.value.args[0]

"""Arguments a procedure cannot take get switchboard.error.invalid_argument, not a TypeError.

Autobahn calls a procedure with whatever positional and keyword arguments the caller sent; one that
does not fit the signature raised TypeError inside the component, which the caller saw as
wamp.error.runtime_error and the component logged with a traceback: anyone could fill a log that
way. `checked` binds the call's arguments to the procedure's signature first
(`inspect.signature(...).bind`) and answers a mismatch with the error the README documents; only a
call that binds reaches the procedure, so a TypeError from inside it is still a fault worth logging.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import uris


def checked(endpoint: Callable[..., Any], procedure: str, details_arg: str | None = None) -> Callable[..., Any]:
    """`endpoint` behind a signature check (a coroutine function stays one: txaio looks)."""
    try:
        signature = inspect.signature(endpoint)
    except (TypeError, ValueError):  # no signature to check against (some builtins)
        return endpoint
    shown = signature.replace(parameters=[p for p in signature.parameters.values() if p.name != details_arg])

    def check(args, kwargs):
        try:
            signature.bind(*args, **kwargs)
        except TypeError as e:
            raise ApplicationError(uris.INVALID_ARGUMENT, f"{procedure} takes {shown}: {e}") from None

    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def checked_coroutine(*args, **kwargs):
            check(args, kwargs)
            return await endpoint(*args, **kwargs)

        return checked_coroutine

    @functools.wraps(endpoint)
    def checked_function(*args, **kwargs):
        check(args, kwargs)
        return endpoint(*args, **kwargs)

    return checked_function

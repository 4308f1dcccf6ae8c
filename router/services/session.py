"""What every session Switchboard runs shares, router services and backend components alike: an
ApplicationError answered to a caller is not logged as a fault, and arguments a procedure's signature
cannot take are refused with switchboard.error.invalid_argument (router/services/arguments.py)."""

from __future__ import annotations

from autobahn.wamp.exception import ApplicationError
from switchboard.router.services.arguments import checked


class QuietApplicationErrors:
    """Mixin: an ApplicationError raised by a procedure is the answer to bad input, already sent to
    the caller: not a fault to log. Anything else is still logged."""

    def onUserError(self, fail, msg):
        if isinstance(fail.value, ApplicationError):
            return
        super().onUserError(fail, msg)


class CheckedArguments:
    """Mixin: every procedure registered with a URI answers arguments its signature cannot take with
    switchboard.error.invalid_argument instead of a TypeError."""

    def register(self, endpoint, procedure=None, options=None, *args, **kwargs):
        if callable(endpoint) and procedure is not None:
            endpoint = checked(endpoint, procedure, getattr(options, "details_arg", None))
        return super().register(endpoint, procedure, options, *args, **kwargs)

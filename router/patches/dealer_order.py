"""Refuse an unauthorized REGISTER with wamp.error.not_authorized before looking at what exists.

Crossbar 26.10.1's `Dealer.processRegister` builds the not_authorized reply, does not send it, goes on
to look the procedure up and answers `wamp.error.procedure_already_exists` when it is registered: an
anonymous client could list which procedures the hub has by trying to register them. Here the
dealer authorizes first (the same `router.authorize` call, so the same cache and dynamic
authorizers) and sends a refusal itself; only an allowed REGISTER goes on to Crossbar's code, which
authorizes again (a cache hit for static roles) and checks for an existing registration.

CALL, SUBSCRIBE and PUBLISH need no change: Crossbar authorizes them before it looks at
registrations or subscriptions (an unacknowledged PUBLISH gets no answer either way). Installed in
the router worker only, the one process whose dealer serves clients.
"""

from __future__ import annotations

from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError
from switchboard.router.patches.workerproc import in_crossbar_worker

#: Crossbar's own processRegister, once installed (crossbar is imported only then: components
#: outside a router worker run without it)
_stock_process_register = None
_installed = False


def refusal(register: message.Register, session) -> message.Error:
    reply = message.Error(
        message.Register.MESSAGE_TYPE,
        register.request,
        ApplicationError.NOT_AUTHORIZED,
        [
            f'session (session_id={session._session_id}, authid="{session._authid}", authrole="{session._authrole}") '
            f'is not authorized to register procedure "{register.procedure}" on realm "{session._realm}"'
        ],
    )
    reply.correlation_id = register.correlation_id
    reply.correlation_uri = register.procedure
    reply.correlation_is_anchor = False
    reply.correlation_is_last = True
    return reply


def process_register(self, session, register: message.Register) -> None:
    """`Dealer.processRegister`, authorizing before anything else can answer."""
    d = self._router.authorize(session, register.procedure, "register", options=register.marshal_options())

    def decided(authorization):
        if authorization["allow"]:
            _stock_process_register(self, session, register)
        else:
            self._router.send(session, refusal(register, session))

    def failed(_failure):
        # the authorizer itself failed: Crossbar's code asks again and answers authorization_failed
        _stock_process_register(self, session, register)

    d.addCallbacks(decided, failed)  # a Deferred: the router worker runs Twisted


def install(force: bool = False) -> bool:
    """In a Crossbar worker (or with `force`), make the dealer authorize a REGISTER first: called for
    the router worker only (router/patches/__init__.py)."""
    global _installed, _stock_process_register
    if _installed:
        return True
    if not (force or in_crossbar_worker()):
        return False
    from crossbar.router.dealer import Dealer

    _stock_process_register = Dealer.processRegister
    Dealer.processRegister = process_register
    _installed = True
    return True

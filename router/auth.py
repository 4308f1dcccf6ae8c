"""Browser sign-in: the dynamic authenticator for Django tickets and the authorizer of role `user`.

Runs as a router component (in the router worker, started before any transport listens). Used
ticket ids are kept in the hub's replay database (config extra "database", router/replay_store.py),
so a ticket used before a restart is still refused after it.
"""

from __future__ import annotations

import os

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from twisted.logger import Logger

from bridge import tickets
from bridge.replay import NonceCache, ReplayCacheFull
from components.base import QuietApplicationErrors
from router import replay_store
from router import settings as S
from router.permissions import decide_for_user, public_rules

log = Logger()

AUTHENTICATE = "switchboard.auth.ticket"
AUTHORIZE = "switchboard.auth.authorize"
USER_ROLE = "user"


class TicketAuth(QuietApplicationErrors, ApplicationSession):
    """Registers the ticket authenticator and the `user` role's authorizer."""

    async def onJoin(self, details):
        self._secret = os.environ.get(S.ENV_TICKET_SECRET)
        if not self._secret:
            raise RuntimeError(f"{S.ENV_TICKET_SECRET} is not set")
        database = (self.config.extra or {}).get("database", replay_store.DEFAULT_DATABASE)
        self._used = NonceCache(tickets.MAX_TTL + 2 * tickets.LEEWAY,
                                store=replay_store.open_store(database, replay_store.TICKETS))
        self._rules = public_rules()
        await self.register(self.authenticate, AUTHENTICATE)
        await self.register(self.authorize, AUTHORIZE)

    def authenticate(self, realm, authid, details):
        """Accept or refuse with an ApplicationError; never anything else, which Crossbar would leave
        hanging (no WELCOME, no ABORT)."""
        try:
            return self._check(authid, details)
        except ApplicationError:
            raise
        except Exception as e:
            log.warn("ticket sign-in refused on an unexpected error: {error}", error=f"{type(e).__name__}: {e}")
            raise ApplicationError(tickets.INVALID, "ticket could not be checked") from None

    def _check(self, authid, details):
        try:
            payload = tickets.verify(self._secret, details.get("ticket"))
        except tickets.TicketError as e:
            raise ApplicationError(e.uri, str(e)) from None
        if authid and authid != payload["sub"]:
            raise ApplicationError(tickets.INVALID, "authid does not match the ticket")
        try:
            first_use = self._used.check_and_add(payload["jti"])
        except ReplayCacheFull as e:
            raise ApplicationError(tickets.INVALID, f"ticket reuse cannot be checked: {e}") from None
        if not first_use:
            raise ApplicationError(tickets.REPLAYED, "ticket already used; fetch a fresh one")
        return {"authid": payload["sub"], "role": USER_ROLE, "extra": payload["extra"]}

    def authorize(self, session, uri, action, options):
        match = (options or {}).get("match")
        return decide_for_user(self._rules, session["authid"], uri, action, match).as_wamp()

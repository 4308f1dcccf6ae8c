"""Browser sign-in: the dynamic authenticator for Django tickets and the dashboard's admin secret, and
the authorizer of role `user`.

A ticket that is the admin secret (SWITCHBOARD_ADMIN_SECRET, compared in constant time) joins as
authid ADMIN_AUTHID with role `admin` (the dashboard, web/admin.html); it is a password, not used up.
Any other ticket must be a signed ticket (bridge/tickets.py), which gives its own authid and role.

Runs as a router component (in the router worker, started before any transport listens). Used
ticket ids are checked in memory and written behind to the hub's replay database (config extra
"database", router/services/replay_store.py); the WELCOME waits until the ticket's use is committed (without
blocking the reactor), so a ticket that signed a session in is still refused after any restart or crash.

On a cluster node (SWITCHBOARD_REDIS_URL) the ticket's id is recorded in Redis instead, by one
atomic SET NX (router/cluster/replay.py, on a thread; the WELCOME waits for it), so a ticket signs
in once on whichever node it reaches; while Redis cannot be asked, ticket sign-ins are refused
(ticket_invalid, saying so) and the admin secret still signs in.
"""

from __future__ import annotations

import hmac

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import tickets
from switchboard.bridge.replay import MAX_NONCES, NonceCache, ReplayCacheFull
from switchboard.router import settings as S
from switchboard.router.cluster import replay as cluster_replay
from switchboard.router.cluster import wire
from switchboard.router.services import replay_store
from switchboard.router.services.permissions import decide_for_user, public_rules
from switchboard.router.services.session import QuietApplicationErrors
from twisted.logger import Logger

log = Logger()

AUTHENTICATE = "switchboard.auth.ticket"
AUTHORIZE = "switchboard.auth.authorize"
USER_ROLE, ADMIN_ROLE = tickets.USER_ROLE, tickets.ADMIN_ROLE
#: the authid of a session signed in with the admin secret
ADMIN_AUTHID = "admin"


def admin_secret(value: str | None) -> bytes:
    """The admin secret to compare tickets with, b"" (none signs in) when unset or guessably short."""
    secret = (value or "").encode()
    if secret and len(secret) < tickets.MIN_SECRET_BYTES:
        log.warn(
            "{name} is shorter than {n} bytes: nobody signs in to the dashboard with it",
            name=S.ENV_ADMIN_SECRET,
            n=tickets.MIN_SECRET_BYTES,
        )
        return b""
    return secret


class TicketAuth(QuietApplicationErrors, ApplicationSession):
    """Registers the ticket authenticator and the `user` role's authorizer."""

    async def onJoin(self, details):
        self._secret = S.runtime().ticket_secret
        if not self._secret:
            raise RuntimeError(f"{S.ENV_TICKET_SECRET} is not set")
        self._admin_secret = admin_secret(S.runtime().admin_secret)
        if S.runtime().redis_url:  # a cluster node: used tickets in Redis, no replay database
            self._shared, self._realm = cluster_replay.shared(S.runtime().redis_url), details.realm
        else:
            self._open_database()
        self._rules = public_rules()
        await self.register(self.authenticate, AUTHENTICATE)
        await self.register(self.authorize, AUTHORIZE)

    def _open_database(self) -> None:
        database = (self.config.extra or {}).get("database", replay_store.DEFAULT_DATABASE)
        store = replay_store.open_store(database, replay_store.TICKETS, MAX_NONCES)
        self._used = NonceCache(self.USED_TTL, store=store)
        self._writer = store.writer
        replay_store.stop_at_shutdown()

    #: seconds a used ticket id is remembered: past it the ticket has expired anyway
    USED_TTL = tickets.MAX_TTL + 2 * tickets.LEEWAY
    _shared = None  # the cluster's replay memory (Redis); None: this node's own
    _realm = "switchboard"
    _writer = None  # the replay database's writer; None: the used tickets live in memory only
    _admin_secret = b""  # empty: no session signs in with an admin secret

    def authenticate(self, realm, authid, details):
        """Accept or refuse with an ApplicationError; never anything else, which Crossbar would leave
        hanging (no WELCOME, no ABORT). With a replay database, the acceptance is a Deferred that fires
        once the ticket's use is committed."""
        try:
            if self._shared is not None:
                return self._check_in_cluster(authid, details)
            accepted = self._check(authid, details)
        except ApplicationError:
            raise
        except Exception as e:
            log.warn("ticket sign-in refused on an unexpected error: {error}", error=f"{type(e).__name__}: {e}")
            raise ApplicationError(tickets.INVALID, "ticket could not be checked") from None
        if self._writer is None:
            return accepted
        return replay_store.durable(self._writer).addCallbacks(lambda _: accepted, self._not_recorded)

    @staticmethod
    def _not_recorded(failure):
        log.warn("ticket sign-in refused: its use could not be recorded: {error}", error=failure.getErrorMessage())
        raise ApplicationError(tickets.INVALID, "ticket use could not be recorded; fetch a fresh one")

    def _verified(self, authid, details) -> tuple[dict, str | None]:
        """The sign-in a ticket gives, and its id to accept once (None for the admin secret)."""
        ticket = details.get("ticket")
        if self._is_admin_secret(ticket):
            if authid and authid != ADMIN_AUTHID:
                raise ApplicationError(tickets.INVALID, f"the admin secret signs in as authid {ADMIN_AUTHID!r} only")
            return {"authid": ADMIN_AUTHID, "role": ADMIN_ROLE, "extra": {}}, None
        try:
            payload = tickets.verify(self._secret, ticket)
        except tickets.TicketError as e:
            raise ApplicationError(e.uri, str(e)) from None
        if authid and authid != payload["sub"]:
            raise ApplicationError(tickets.INVALID, "authid does not match the ticket")
        return {"authid": payload["sub"], "role": payload["role"], "extra": payload["extra"]}, payload["jti"]

    def _check(self, authid, details):
        accepted, jti = self._verified(authid, details)
        if jti is None:
            return accepted
        try:
            first_use = self._used.check_and_add(jti)
        except ReplayCacheFull as e:
            raise ApplicationError(tickets.INVALID, f"ticket reuse cannot be checked: {e}") from None
        return _first_use(first_use, accepted)

    def _check_in_cluster(self, authid, details):
        """The sign-in, or a Deferred of it once Redis has recorded the ticket's first use."""
        accepted, jti = self._verified(authid, details)
        if jti is None:
            return accepted
        d = self._shared.first_use(wire.replay_key(self._realm, replay_store.TICKETS, jti), self.USED_TTL)
        return d.addCallbacks(_first_use, _unchecked, callbackArgs=(accepted,))

    def _is_admin_secret(self, ticket) -> bool:
        if not self._admin_secret or not isinstance(ticket, str) or len(ticket) > tickets.MAX_TICKET_LENGTH:
            return False
        return hmac.compare_digest(ticket.encode("utf-8", "replace"), self._admin_secret)

    def authorize(self, session, uri, action, options):
        match = (options or {}).get("match")
        return decide_for_user(self._rules, session["authid"], uri, action, match).as_wamp()


def _first_use(first: bool, accepted: dict) -> dict:
    if not first:
        raise ApplicationError(tickets.REPLAYED, "ticket already used; fetch a fresh one")
    return accepted


def _unchecked(failure):
    """Redis did not record the ticket's use (router/cluster/replay.py logged why, once): refused."""
    if failure.check(ReplayCacheFull):
        raise ApplicationError(tickets.INVALID, f"ticket reuse cannot be checked: {failure.getErrorMessage()}")
    log.warn("ticket sign-in refused on an unexpected error: {error}", error=failure.getErrorMessage())
    raise ApplicationError(tickets.INVALID, "ticket could not be checked")

"""Short-lived signed tickets that let a browser join the hub as its Django user: pure functions.

A ticket is a standard JWT (RFC 7519), HS256 with the hub's SWITCHBOARD_TICKET_SECRET, so a
backend in any language can mint one with its JWT library. Claims, all required: `sub` (the
authid), `iat`, `exp` (at most MAX_TTL after iat), `jti` (used once), `aud` = "switchboard"; and
optionally `extra` (an object, the session's authextra) and `role` (one of ROLES: USER_ROLE when
absent; ADMIN_ROLE signs a staff user in to the dashboard). Django mints it; the router's dynamic
authenticator verifies it and accepts each jti once, so a ticket cannot be replayed.

`sub` becomes the session's authid and the middle of its private topics `user.<sub>.…`, so it must be
one URI component: a sub with a dot ("1.notes") would otherwise own the topics of user "1". Both
sides check it (SUB_PATTERN), and verify checks every claim's type, because the router hangs the
session on an authid or extra of the wrong type instead of refusing it. PyJWT checks the signature,
the algorithm (only HS256: no "none", no key confusion) and the audience; the times are checked here
against an injected clock.
"""

from __future__ import annotations

import re
import secrets
import time

import jwt
from switchboard.bridge import uris

#: the only algorithm a ticket may use, and the audience it must name
ALGORITHM = "HS256"
AUDIENCE = "switchboard"
REQUIRED_CLAIMS = ("sub", "iat", "exp", "jti", "aud")
#: RFC 7518: an HS256 key at least as long as the hash (the hub generates 43 random characters)
MIN_SECRET_BYTES = 32
#: Seconds a ticket is valid; a page fetches a fresh one on every (re)connect.
DEFAULT_TTL = 60
#: Longest lifetime a ticket may claim; the router remembers used tickets this long.
MAX_TTL = 600
#: Clock difference tolerated between the minting Django and the router.
LEEWAY = 5
MAX_TICKET_LENGTH = 4096
#: What a sub may be: one URI component (no ".", "#", whitespace or wildcard), e.g. a Django pk or UUID.
SUB_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_JTI_LENGTH = 128
#: The roles a ticket may give its session (the hub's config defines both): `user`, a signed-in user
#: of the site (router/services/permissions.py), and `admin`, the dashboard's (web/admin.html), which
#: may list and kill every session: whoever holds the ticket secret can mint either.
USER_ROLE, ADMIN_ROLE = "user", "admin"
ROLES = (USER_ROLE, ADMIN_ROLE)
#: the hub's dashboard page (web/admin.html), which signs in with a ticket given in its URL fragment
DASHBOARD_PATH = "admin.html"

INVALID, EXPIRED, REPLAYED = uris.TICKET_INVALID, uris.TICKET_EXPIRED, uris.TICKET_REPLAYED


class TicketError(ValueError):
    """`uri` is the abort reason the client sees (a ValueError, so mint's callers catch it as bad input)."""

    def __init__(self, uri: str, message: str):
        super().__init__(message)
        self.uri = uri


def check_sub(sub) -> str:
    """`sub` if it is a valid authid (one URI component, see SUB_PATTERN); TicketError otherwise."""
    if not isinstance(sub, str) or not SUB_PATTERN.fullmatch(sub):
        raise TicketError(INVALID, f"ticket sub must be 1-64 of A-Z a-z 0-9 _ - (one URI component), not {sub!r:.80}")
    return sub


def mint(
    secret: str,
    authid: str,
    *,
    ttl: float = DEFAULT_TTL,
    now: float | None = None,
    extra: dict | None = None,
    jti: str | None = None,
    role: str = USER_ROLE,
) -> str:
    """A ticket for `authid` (a Django pk: str() of it must pass check_sub, else TicketError) with
    `role` (one of ROLES; a user ticket carries no role claim)."""
    now = time.time() if now is None else now
    if not 0 < ttl <= MAX_TTL:
        raise ValueError(f"ttl must be in (0, {MAX_TTL}] seconds")
    if extra is not None and not isinstance(extra, dict):
        raise TypeError("extra must be a dict")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r:.40}")
    claims = {
        "sub": check_sub(str(authid)),
        "iat": int(now),
        "exp": int(now + ttl),
        "jti": jti or secrets.token_urlsafe(16),
        "aud": AUDIENCE,
        "extra": extra or {},
        **({"role": role} if role != USER_ROLE else {}),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def dashboard_link(hub_http_url: str, ticket: str) -> str:
    """The dashboard's URL that signs in with `ticket` (role admin): the ticket rides in the fragment,
    which the browser never sends to a server (nor in a Referer), and the page takes it out of the
    address bar."""
    return f"{hub_http_url.rstrip('/')}/{DASHBOARD_PATH}#ticket={ticket}"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def verify(secret: str, ticket: str, *, now: float | None = None, leeway: float = LEEWAY) -> dict:
    """The payload of an authentic, unexpired ticket, its `role` filled in; TicketError otherwise.
    Replay is the caller's check."""
    now = time.time() if now is None else now
    if not isinstance(ticket, str) or len(ticket) > MAX_TICKET_LENGTH:
        raise TicketError(INVALID, "malformed ticket")
    try:
        payload = jwt.decode(
            ticket,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": list(REQUIRED_CLAIMS), "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidTokenError as e:
        raise TicketError(INVALID, f"ticket refused: {e}") from None
    if (
        not _is_int(payload.get("exp"))
        or not isinstance(payload.get("jti"), str)
        or not 0 < len(payload["jti"]) <= MAX_JTI_LENGTH
    ):
        raise TicketError(INVALID, "ticket lacks an integer exp or a string jti")
    check_sub(payload.get("sub"))
    if not isinstance(payload.setdefault("extra", {}), dict):
        raise TicketError(INVALID, "ticket extra must be an object")
    if payload.setdefault("role", USER_ROLE) not in ROLES:
        raise TicketError(INVALID, f"ticket role must be one of {', '.join(ROLES)}")
    if payload["exp"] + leeway < now:
        raise TicketError(EXPIRED, f"ticket expired {now - payload['exp']:.0f}s ago")
    if not _is_int(payload.get("iat")) or payload["iat"] - leeway > now:
        raise TicketError(INVALID, "ticket issue time missing or in the future")
    nbf = payload.get("nbf")
    if nbf is not None and (not _is_int(nbf) or nbf - leeway > now):
        raise TicketError(INVALID, "ticket not valid yet (nbf)")
    if payload["exp"] - payload["iat"] > MAX_TTL:
        raise TicketError(INVALID, f"ticket lifetime exceeds {MAX_TTL}s")
    return payload

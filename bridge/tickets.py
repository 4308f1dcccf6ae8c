"""Short-lived signed tickets that let a browser join the hub as its Django user: pure functions.

A ticket is `base64url(payload JSON) "." base64url(HMAC-SHA256(secret, "switchboard-ticket." + payload))`
with payload {"v": 1, "sub": authid, "iat", "exp", "jti", "extra"}. Django mints it; the router's
dynamic authenticator verifies it and accepts each jti once, so a ticket cannot be replayed.

`sub` becomes the session's authid and the middle of its private topics `user.<sub>.…`, so it must be
one URI component: a sub with a dot ("1.notes") would otherwise own the topics of user "1". Both
sides check it (SUB_PATTERN), and verify checks every field's type, because the router hangs the
session on an authid or extra of the wrong type instead of refusing it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time

from switchboard.bridge import uris

VERSION = 1
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
_DOMAIN = b"switchboard-ticket."

INVALID, EXPIRED, REPLAYED = uris.TICKET_INVALID, uris.TICKET_EXPIRED, uris.TICKET_REPLAYED


class TicketError(ValueError):
    """`uri` is the abort reason the client sees (a ValueError, so mint's callers catch it as bad input)."""

    def __init__(self, uri: str, message: str):
        super().__init__(message)
        self.uri = uri


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode("utf-8"), _DOMAIN + payload.encode("ascii"), hashlib.sha256).digest())


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
) -> str:
    """A ticket for `authid` (a Django pk: str() of it must pass check_sub, else TicketError)."""
    now = time.time() if now is None else now
    if not 0 < ttl <= MAX_TTL:
        raise ValueError(f"ttl must be in (0, {MAX_TTL}] seconds")
    if extra is not None and not isinstance(extra, dict):
        raise TypeError("extra must be a dict")
    payload = {
        "v": VERSION,
        "sub": check_sub(str(authid)),
        "iat": int(now),
        "exp": int(now + ttl),
        "jti": jti or secrets.token_urlsafe(16),
        "extra": extra or {},
    }
    encoded = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{encoded}.{_mac(secret, encoded)}"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def verify(secret: str, ticket: str, *, now: float | None = None, leeway: float = LEEWAY) -> dict:
    """The payload of an authentic, unexpired ticket; TicketError otherwise. Replay is the caller's check."""
    now = time.time() if now is None else now
    if not isinstance(ticket, str) or len(ticket) > MAX_TICKET_LENGTH or ticket.count(".") != 1:
        raise TicketError(INVALID, "malformed ticket")
    encoded, mac = ticket.split(".")
    if not hmac.compare_digest(_mac(secret, encoded), mac):
        raise TicketError(INVALID, "ticket signature does not match")
    try:
        payload = json.loads(_unb64(encoded))
    except (ValueError, binascii.Error):
        raise TicketError(INVALID, "ticket payload is not JSON") from None
    if (
        not isinstance(payload, dict)
        or payload.get("v") != VERSION
        or not _is_int(payload.get("exp"))
        or not isinstance(payload.get("jti"), str)
        or not 0 < len(payload["jti"]) <= MAX_JTI_LENGTH
    ):
        raise TicketError(INVALID, "ticket payload lacks v, an integer exp or a string jti")
    check_sub(payload.get("sub"))
    if not isinstance(payload.setdefault("extra", {}), dict):
        raise TicketError(INVALID, "ticket extra must be an object")
    if payload["exp"] + leeway < now:
        raise TicketError(EXPIRED, f"ticket expired {now - payload['exp']:.0f}s ago")
    if not _is_int(payload.get("iat")) or payload["iat"] - leeway > now:
        raise TicketError(INVALID, "ticket issue time missing or in the future")
    if payload["exp"] - payload["iat"] > MAX_TTL:
        raise TicketError(INVALID, f"ticket lifetime exceeds {MAX_TTL}s")
    return payload

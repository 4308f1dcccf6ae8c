"""HMAC request signing for the HTTP bridge: pure functions, used by the router and every client.

A signed request carries four headers:

    X-Switchboard-Key        key id (the verifier maps it to a secret)
    X-Switchboard-Timestamp  Unix seconds when it was signed
    X-Switchboard-Nonce      random, unique per request
    X-Switchboard-Signature  hex HMAC-SHA256(secret, canonical request)

The canonical request is SCHEME, method, path (with query), timestamp, nonce and the SHA-256 of the
body, joined by newlines, so nothing of the request can change without breaking the signature. The
verifier refuses a timestamp more than `window` seconds from its clock and any nonce it has already
accepted inside that window, so a captured request cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Callable, Mapping

from switchboard.bridge.replay import NonceCache

SCHEME = "SB1-HMAC-SHA256"
HEADER_KEY = "X-Switchboard-Key"
HEADER_TIMESTAMP = "X-Switchboard-Timestamp"
HEADER_NONCE = "X-Switchboard-Nonce"
HEADER_SIGNATURE = "X-Switchboard-Signature"
#: Seconds a signed request stays valid either side of the verifier's clock.
DEFAULT_WINDOW = 300
#: Unix seconds have 10 digits until 2286; more is not a timestamp (int() of 400 digits overflowed the
#: clock arithmetic: a 500)
MAX_TIMESTAMP_DIGITS = 12
MAX_NONCE_LENGTH = 128
REPLAYED_MESSAGE = "nonce already used: request replayed"


class SignatureError(Exception):
    """The request is not authentic; `reason` is a short code, the message says what is wrong."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def canonical_request(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([SCHEME, method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode("utf-8")


def signature(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(
        secret.encode("utf-8"), canonical_request(method, path, timestamp, nonce, body), hashlib.sha256
    ).hexdigest()


def sign_request(
    key: str, secret: str, method: str, path: str, body: bytes, *, now: float | None = None, nonce: str | None = None
) -> dict[str, str]:
    """The headers that authenticate one request."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = nonce or secrets.token_hex(16)
    return {
        HEADER_KEY: key,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature(secret, method, path, timestamp, nonce, body),
    }


class Verifier:
    """Checks signed requests against known keys; remembers nonces for twice the window.

    `nonces` defaults to a cache in this process's memory; the hub passes one kept in its replay
    database, so a request captured before a restart is still refused after it.
    """

    def __init__(
        self,
        keys: Mapping[str, str],
        *,
        window: float = DEFAULT_WINDOW,
        clock: Callable[[], float] = time.time,
        nonces: NonceCache | None = None,
    ):
        if not keys or not all(keys.values()):
            raise ValueError("a verifier needs at least one key with a non-empty secret")
        self._keys, self._window, self._clock = dict(keys), window, clock
        self.nonces = NonceCache(2 * window, clock=clock) if nonces is None else nonces  # an empty one is falsy

    def verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> str:
        """Return the key id of an authentic, fresh, first-seen request; raise SignatureError otherwise.

        `headers` must be looked up case-insensitively (or use the canonical names above).
        """
        key, nonce = self.authentic(method, path, headers, body)
        if not self.nonces.check_and_add(nonce):
            raise SignatureError("replayed", REPLAYED_MESSAGE)
        return key

    def authentic(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
        """`verify` but for the nonce: the key id and the nonce's replay key (`key:nonce`), which the
        caller must accept once (a cluster node asks Redis, router/services/bridge_http.py)."""
        values = [headers.get(h) for h in (HEADER_KEY, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)]
        if not all(values):
            raise SignatureError(
                "unsigned",
                "request is not signed: X-Switchboard-Key, -Timestamp, -Nonce and -Signature headers are required",
            )
        key, timestamp, nonce, given = values
        secret = self._keys.get(key)
        if secret is None:
            raise SignatureError("unknown_key", f"unknown key {key[:64]!r}")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_TIMESTAMP_DIGITS):
            raise SignatureError("bad_timestamp", "timestamp must be Unix seconds")
        signed_at = int(timestamp)
        skew = signed_at - self._clock()
        if abs(skew) > self._window:
            word = "in the future" if skew > 0 else "old"
            raise SignatureError(
                "stale_timestamp", f"timestamp is {abs(skew):.0f}s {word}; the window is {self._window:.0f}s"
            )
        if len(nonce) > MAX_NONCE_LENGTH:
            raise SignatureError("bad_nonce", f"nonce longer than {MAX_NONCE_LENGTH} characters")
        expected = signature(secret, method, path, timestamp, nonce, body)
        if not given.isascii() or not hmac.compare_digest(expected, given):  # compare_digest refuses non-ASCII str
            raise SignatureError("bad_signature", "signature does not match the request")
        return key, f"{key}:{nonce}"

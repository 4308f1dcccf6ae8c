"""Is this request really from the hub? Verify the bridge signature on requests the hub sends to Django."""

from __future__ import annotations

import threading

from django.http import HttpRequest
from switchboard.bridge.django.conf import switchboard
from switchboard.bridge.signing import SignatureError, Verifier

_verifiers: dict[tuple[str, str], Verifier] = {}
_lock = threading.Lock()


def verifier() -> Verifier:
    """One Verifier per key and secret, so its nonce cache refuses replays across requests."""
    cfg = switchboard()
    with _lock:
        found = _verifiers.get((cfg.key, cfg.secret))
        if found is None:
            found = _verifiers[(cfg.key, cfg.secret)] = Verifier({cfg.key: cfg.secret})
        return found


def verify(request: HttpRequest) -> str:
    """The key id of an authentic request; SignatureError (with .reason) otherwise.

    The path signed is the one the hub requested, i.e. request.get_full_path().
    """
    return verifier().verify(request.method, request.get_full_path(), request.headers, request.body)


__all__ = ["verify", "verifier", "SignatureError"]

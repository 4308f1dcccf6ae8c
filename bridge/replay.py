"""Each nonce accepted once inside a time window: pure state, clock injected."""

from __future__ import annotations

import time
from collections import deque
from typing import Callable

#: Nonces remembered at most (about 150 bytes each); beyond it new requests are refused, not risked.
MAX_NONCES = 500_000


class ReplayCacheFull(Exception):
    """More unexpired nonces than the cache holds: refuse the request (HTTP 503), never forget one."""


class NonceCache:
    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.time, max_entries: int = MAX_NONCES):
        self._ttl, self._clock, self._max = ttl, clock, max_entries
        self._expiry: dict[str, float] = {}
        self._order: deque[tuple[float, str]] = deque()

    def _expire(self, now: float) -> None:
        while self._order and self._order[0][0] <= now:
            expiry, nonce = self._order.popleft()
            if self._expiry.get(nonce) == expiry:
                del self._expiry[nonce]

    def check_and_add(self, nonce: str) -> bool:
        """True the first time `nonce` is seen within the window, False for a replay."""
        now = self._clock()
        self._expire(now)
        if nonce in self._expiry:
            return False
        if len(self._expiry) >= self._max:
            raise ReplayCacheFull(f"{self._max} nonces in the last {self._ttl:.0f}s")
        expiry = now + self._ttl
        self._expiry[nonce] = expiry
        self._order.append((expiry, nonce))
        return True

    def __len__(self) -> int:
        self._expire(self._clock())
        return len(self._expiry)

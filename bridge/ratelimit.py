"""Rate limiting as pure logic: a token bucket with an injected clock.

Sans-I/O (no sockets, no reactor, no crossbar) so the same bucket serves every limit that counts
events over time — new connections per client address (router/connlimit.py), calls and publishes
per session — and unit tests drive it with a fake clock instead of sleeping.
"""

from __future__ import annotations

import time
from typing import Callable

Clock = Callable[[], float]


class TokenBucket:
    """`burst` tokens at most, refilled at `rate` tokens per second; each event takes some.

    The bucket starts full, so up to `burst` events pass at once and `rate` per second after that.
    Refilling is lazy (computed from the clock on each use): an idle bucket costs nothing, and a
    bucket that `is_full()` holds no state worth keeping — a table of buckets may drop it and make a
    new one later with the same result. `clock` returns seconds and must not go backwards
    (default `time.monotonic`). A limit that is "off" is the caller's business: make no bucket.
    """

    __slots__ = ("rate", "burst", "_clock", "_tokens", "_stamp")

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        if not rate > 0 or not burst > 0:
            raise ValueError(f"TokenBucket needs rate > 0 and burst > 0, got rate={rate!r}, burst={burst!r}")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()

    def _refill(self) -> float:
        now = self._clock()
        if now > self._stamp:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
        return self._tokens

    def try_take(self, n: float = 1) -> bool:
        """Take `n` tokens if the bucket holds them (True); else take none (False). `n` > `burst`
        never succeeds."""
        if self._refill() >= n:
            self._tokens -= n
            return True
        return False

    def tokens(self) -> float:
        """Tokens in the bucket now."""
        return self._refill()

    def is_full(self) -> bool:
        """Whether the bucket is back at `burst`: nothing taken is still being paid back."""
        return self._refill() >= self.burst

    def seconds_until(self, n: float = 1) -> float:
        """Seconds until `n` tokens are there (0 if they are now): e.g. for a Retry-After.
        Infinite for `n` > `burst`."""
        missing = n - self._refill()
        if missing <= 0:
            return 0.0
        return float("inf") if n > self.burst else missing / self.rate

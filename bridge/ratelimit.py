"""Rate limiting as pure logic: a token bucket with an injected clock, and per-address connection limits.

Sans-I/O (no sockets, no reactor, no crossbar) so the same bucket serves every limit that counts
events over time — new connections per client address (router/patches/connlimit.py), calls and publishes
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


#: why a connection was refused
OVER_OPEN = "open"
OVER_RATE = "rate"


class _Address:
    """One client address's state: its open connections, its connect bucket, refusals not yet logged."""

    __slots__ = ("open", "bucket", "refused_open", "refused_rate", "window_start")

    def __init__(self) -> None:
        self.open = 0
        self.bucket: TokenBucket | None = None
        self.refused_open = 0
        self.refused_rate = 0
        self.window_start: float | None = None

    def idle(self) -> bool:
        return self.open == 0 and self.window_start is None and (self.bucket is None or self.bucket.is_full())


class Refusals:
    """What one log line reports: connections refused from `address` since `since`, by reason."""

    __slots__ = ("address", "over_open", "over_rate", "since")

    def __init__(self, address: str, over_open: int, over_rate: int, since: float) -> None:
        self.address, self.over_open, self.over_rate, self.since = address, over_open, over_rate, since

    def __repr__(self) -> str:
        return f"Refusals({self.address!r}, over_open={self.over_open}, over_rate={self.over_rate})"


class AddressTable:
    """Per-address connection limits: at most `max_open` open connections (0: no limit) and new ones
    at `rate` per second with bursts of `burst` (rate 0: no limit), for each client address.

    Memory stays bounded by what is live: an address is kept only while it has open connections,
    a bucket still refilling or refusals not yet reported, and dropped as soon as it has none (on
    its last close, or by `sweep()`), so a scan from many addresses does not grow the table. Refusals
    are counted, not reported one by one: `sweep()` hands back one `Refusals` per address whose
    reporting window (`log_interval` seconds from its first unreported refusal) has passed, so a
    flood from one address makes one log line per window. `sweep()` looks only at addresses with
    refusals or with no connection left, never at the (many) merely open ones.
    """

    def __init__(
        self, max_open: int, rate: float, burst: float, clock: Clock = time.monotonic, log_interval: float = 10.0
    ) -> None:
        self.max_open = int(max_open)
        self.rate = float(rate)
        self.burst = float(burst)
        self.log_interval = log_interval
        self._clock = clock
        self._addresses: dict[str, _Address] = {}
        #: addresses with unreported refusals, oldest window first
        self._windows: dict[str, None] = {}
        #: addresses with no open connection whose bucket may still be refilling
        self._draining: dict[str, None] = {}

    def __len__(self) -> int:
        return len(self._addresses)

    def open_count(self, address: str) -> int:
        entry = self._addresses.get(address)
        return entry.open if entry else 0

    def admit(self, address: str) -> str | None:
        """A new connection from `address`: None if it may stay (it is now counted open; call
        `release` when it closes), else why not (OVER_OPEN or OVER_RATE; nothing is counted open)."""
        entry = self._addresses.get(address)
        if entry is None:
            entry = self._addresses[address] = _Address()
        if 0 < self.max_open <= entry.open:
            entry.refused_open += 1
            self._refused(address, entry)
            return OVER_OPEN
        if self.rate > 0:
            if entry.bucket is None:
                entry.bucket = TokenBucket(self.rate, self.burst, self._clock)
            if not entry.bucket.try_take():
                entry.refused_rate += 1
                self._refused(address, entry)
                return OVER_RATE
        entry.open += 1
        return None

    def _refused(self, address: str, entry: _Address) -> None:
        if entry.window_start is None:
            entry.window_start = self._clock()
            self._windows[address] = None

    def release(self, address: str) -> None:
        """A connection `admit` let in has closed."""
        entry = self._addresses.get(address)
        if entry is None or entry.open == 0:
            return
        entry.open -= 1
        if entry.open == 0:
            if entry.idle():
                del self._addresses[address]
            else:
                self._draining[address] = None

    def sweep(self) -> list[Refusals]:
        """Report the refusals whose window has passed (each address counts from zero again) and drop
        the addresses left idle. Call it every second or so."""
        now = self._clock()
        due: list[Refusals] = []
        for address in list(self._windows):
            entry = self._addresses[address]
            start = entry.window_start
            if now - start < self.log_interval:
                break  # windows are in the order they opened: the rest are younger
            due.append(Refusals(address, entry.refused_open, entry.refused_rate, start))
            entry.refused_open = entry.refused_rate = 0
            entry.window_start = None
            del self._windows[address]
            if entry.open == 0:
                self._draining[address] = None
        for address in list(self._draining):
            entry = self._addresses.get(address)
            if entry is None or entry.open > 0:
                del self._draining[address]
            elif entry.idle():
                del self._addresses[address]
                del self._draining[address]
        return due

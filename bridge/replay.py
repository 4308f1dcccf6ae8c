"""Each key (nonce, ticket id, event id) accepted once until it expires: pure logic, clock and store injected.

The decisions — what counts as seen, when to purge, what a full cache does — live here once. Where the
keys are kept is a `ReplayStore`, always answered from memory so a check costs microseconds:
`MemoryStore` below (a process's memory, for Django and the unit tests), or the router's
`WriteBehindStore` (router/services/replay_store.py: a MemoryStore loaded from the hub's SQLite file at start,
each new key written there behind, off the reactor thread), so a hub restart forgets nothing.

Written here rather than taken from a TTL cache library (cachetools' TTLCache and the like): those
evict the oldest live entry when full, and a replay cache that forgets a live key accepts its request
again; this one refuses new keys when full (ReplayCacheFull), and keeps its keys in a store that can
be written behind to disk.
"""

from __future__ import annotations

import heapq
import time
from typing import Callable, Protocol

#: Nonces remembered at most (about 150 bytes each); beyond it new requests are refused, not risked.
MAX_NONCES = 500_000
#: Expired keys deleted per purge at most, so one request never pays for a large backlog.
PURGE_BATCH = 1000
#: Seconds between purges while no backlog of expired keys is left.
PURGE_INTERVAL = 1.0


class ReplayCacheFull(Exception):
    """More unexpired nonces than the cache holds: refuse the request (HTTP 503), never forget one."""


class ReplayStore(Protocol):
    """Keys with their expiry time; no policy (expired keys stay until purged). Never waits on a disk:
    the caller runs on the router's reactor thread. `put` may raise ReplayCacheFull to refuse a key."""

    def expiry(self, key: str) -> float | None:
        """When `key` expires, or None if it is not held."""

    def put(self, key: str, expires: float) -> None:
        """Hold `key` until `expires` (replacing what was held for it)."""

    def purge(self, now: float, limit: int | None) -> int:
        """Delete up to `limit` (None: all) keys that expired at or before `now`; how many went."""

    def evict_oldest(self, count: int) -> int:
        """Delete the `count` keys expiring first, expired or not; how many went."""

    def __len__(self) -> int:
        """Keys held, expired ones not yet purged included."""


class MemoryStore:
    """A ReplayStore in this process's memory: a dict, and a heap of expiries for purging in order."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def expiry(self, key: str) -> float | None:
        return self._expiry.get(key)

    def put(self, key: str, expires: float) -> None:
        self._expiry[key] = expires
        heapq.heappush(self._heap, (expires, key))  # an entry it replaces stays in the heap, skipped later

    def _pop(self, now: float, limit: int | None) -> int:
        gone = 0
        while self._heap and (limit is None or gone < limit) and self._heap[0][0] <= now:
            expires, key = heapq.heappop(self._heap)
            if self._expiry.get(key) == expires:
                del self._expiry[key]
                gone += 1
        return gone

    def purge(self, now: float, limit: int | None) -> int:
        return self._pop(now, limit)

    def evict_oldest(self, count: int) -> int:
        return self._pop(float("inf"), count)

    def __len__(self) -> int:
        return len(self._expiry)


class NonceCache:
    """Keys accepted once for `ttl` seconds; a full cache refuses new keys (ReplayCacheFull)."""

    def __init__(
        self,
        ttl: float,
        *,
        clock: Callable[[], float] = time.time,
        max_entries: int = MAX_NONCES,
        store: ReplayStore | None = None,
    ):
        self._ttl, self._clock, self._max = ttl, clock, max_entries
        self._store: ReplayStore = MemoryStore() if store is None else store
        self._next_purge = float("-inf")

    def _purge(self, now: float) -> None:
        """Bounded: one batch, then again on the next call while a backlog is left."""
        if now >= self._next_purge:
            backlog = self._store.purge(now, PURGE_BATCH) == PURGE_BATCH
            self._next_purge = now if backlog else now + PURGE_INTERVAL

    def _make_room(self) -> None:
        """Called with `max_entries` unexpired keys held and a new one to add."""
        raise ReplayCacheFull(f"{self._max} nonces in the last {self._ttl:.0f}s")

    def check_and_add(self, nonce: str) -> bool:
        """True the first time `nonce` is seen within the window, False for a replay."""
        now = self._clock()
        self._purge(now)
        expires = self._store.expiry(nonce)
        if expires is not None and expires > now:
            return False
        if expires is None and len(self._store) >= self._max:
            self._store.purge(now, PURGE_BATCH)
            if len(self._store) >= self._max:
                self._make_room()
        self._store.put(nonce, now + self._ttl)
        return True

    def __contains__(self, nonce: str) -> bool:
        expires = self._store.expiry(nonce)
        return expires is not None and expires > self._clock()

    def __len__(self) -> int:
        self._store.purge(self._clock(), None)
        return len(self._store)

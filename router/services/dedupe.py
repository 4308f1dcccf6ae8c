"""Which event ids the bridge has published: pure logic (switchboard.bridge.replay), clock and store injected.

Bounded by age and count; beyond the count the oldest ids are forgotten first, so a retry older than
the window (or beyond the count) would be published again. The hub writes them behind to its replay
database (router/services/replay_store.py, which caps the rows at the same count), so a restart forgets nothing.
"""

from __future__ import annotations

import time
from typing import Callable

from switchboard.bridge.replay import NonceCache, ReplayStore

#: How long an event id is remembered, and how many at most.
ID_TTL = 24 * 3600.0
MAX_IDS = 100_000


class PublishedIds(NonceCache):
    """A NonceCache that, when full, forgets its oldest ids instead of refusing: a publish never waits on it."""

    def __init__(
        self,
        *,
        ttl: float = ID_TTL,
        max_ids: int = MAX_IDS,
        clock: Callable[[], float] = time.time,
        store: ReplayStore | None = None,
    ):
        super().__init__(ttl, clock=clock, max_entries=max_ids, store=store)

    def _make_room(self) -> None:
        self._store.evict_oldest(len(self._store) - self._max + 1)

    def add(self, event_id: str) -> None:
        self.check_and_add(event_id)

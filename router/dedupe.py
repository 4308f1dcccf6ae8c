"""Which event ids the bridge has published: pure state, clock injected.

Bounded by age and count; the oldest ids are forgotten first, so a retry older than the window
(or beyond the count) would be published again. Kept in the router's memory: a hub restart forgets.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable

#: How long an event id is remembered, and how many at most.
ID_TTL = 24 * 3600.0
MAX_IDS = 100_000


class PublishedIds:
    def __init__(self, *, ttl: float = ID_TTL, max_ids: int = MAX_IDS, clock: Callable[[], float] = time.time):
        self._ttl, self._max, self._clock = ttl, max_ids, clock
        self._ids: OrderedDict[str, float] = OrderedDict()

    def _expire(self) -> None:
        cutoff = self._clock() - self._ttl
        while self._ids and next(iter(self._ids.values())) < cutoff:
            self._ids.popitem(last=False)

    def __contains__(self, event_id: str) -> bool:
        self._expire()
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._expire()
        self._ids[event_id] = self._clock()
        self._ids.move_to_end(event_id)
        while len(self._ids) > self._max:
            self._ids.popitem(last=False)

    def __len__(self) -> int:
        self._expire()
        return len(self._ids)

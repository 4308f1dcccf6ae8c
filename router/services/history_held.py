"""What a cluster node's history holds while Redis does not take its writes: pure, no I/O.

The history component (history.py) appends the events published on its node to the cluster's
Redis. While Redis is away they are delivered and acknowledged all the same, and held here, in the
order they came, until a write goes through; then they are written first, oldest first, in chunks
of MOST_PER_WRITE, before anything published later. As the relay's outbox does for the other
nodes (router/cluster/relay.py), the hold is bounded (`cluster_history_held_events`,
bridge/limits.py): past it the oldest are dropped, and each topic's dropped events are counted as a
hole, written with the next chunk as positions no event holds, so history.get sees the hole and
a recovery across it answers gap true. What a node held is lost if it dies before Redis is back;
no one can then say what is missing.
"""

from __future__ import annotations

import collections

#: events written per script at most when what was held goes to Redis (one round trip each)
MOST_PER_WRITE = 1000

#: (topic, publication, published, args, kwargs): what the history component appends
Event = tuple


class Held:
    """Events not written yet, oldest first, at most `most`; and the holes the dropped ones left."""

    def __init__(self, most: int):
        self.most = int(most)
        self._events: collections.deque[Event] = collections.deque()
        #: topic -> events of it dropped (all older than any still held), not yet written as a hole
        self.holes: dict[str, int] = {}
        #: events dropped since this began (for the log line and the tests)
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._events)

    def __bool__(self) -> bool:
        return bool(self._events or self.holes)

    def hold(self, events: list[Event]) -> int:
        """Hold `events` after the others; returns how many of the oldest were dropped for them."""
        self._events.extend(events)
        return self._bound()

    def take(self, most: int = MOST_PER_WRITE) -> tuple[dict[str, int], list[Event]]:
        """The holes and up to `most` of the oldest events, to write in that order; no longer held."""
        holes, self.holes = self.holes, {}
        events = self._events
        return holes, [events.popleft() for _ in range(min(most, len(events)))]

    def put_back(self, holes: dict[str, int], events: list[Event]) -> int:
        """What `take` gave, that could not be written: held again, first; returns how many were dropped."""
        self._events.extendleft(reversed(events))
        for topic, n in holes.items():
            self.holes[topic] = self.holes.get(topic, 0) + n
        return self._bound()

    def _bound(self) -> int:
        events, dropped = self._events, 0
        while len(events) > self.most:
            topic = events.popleft()[0]
            self.holes[topic] = self.holes.get(topic, 0) + 1
            dropped += 1
        self.dropped += dropped
        return dropped

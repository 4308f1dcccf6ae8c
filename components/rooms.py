"""Which chat rooms are active: pure state, time injected.

Only a count and a time per room: the messages themselves are in the history store (history.get),
so a full table costs a few hundred bytes a room, not the 50 recent messages of up to 2000
characters it once held (up to 400 MB for a table of 1000 rooms filled by one client).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable

#: A room with no message for this long is no longer listed, and its state is dropped.
ROOM_IDLE_SECONDS = 3600.0


class Rooms:
    """At most `max_rooms` rooms (switchboard.bridge.limits "chat_max_rooms"); a message to a new room beyond it
    drops the least recently active room, so the list always shows where people talk now."""

    def __init__(
        self, clock: Callable[[], float] = time.time, *, max_rooms: int, idle_seconds: float = ROOM_IDLE_SECONDS
    ):
        self._clock, self._idle, self._max = clock, idle_seconds, max_rooms
        #: room -> (last activity, messages while listed), least recently active first
        self._rooms: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def add(self, room: str) -> int:
        """Count a message in `room`; return how many rooms were dropped to make space for it."""
        _, messages = self._rooms.pop(room, (None, 0))
        self._rooms[room] = (self._clock(), messages + 1)
        dropped = 0
        while len(self._rooms) > self._max:
            self._rooms.popitem(last=False)
            dropped += 1
        return dropped

    def _expire(self) -> None:
        cutoff = self._clock() - self._idle
        while self._rooms and next(iter(self._rooms.values()))[0] < cutoff:
            self._rooms.popitem(last=False)

    def active(self) -> list[dict]:
        """Active rooms, most recently active first."""
        self._expire()
        return [
            {"room": room, "messages": messages, "last_activity": at}
            for room, (at, messages) in reversed(self._rooms.items())
        ]

    def __len__(self) -> int:
        return len(self._rooms)

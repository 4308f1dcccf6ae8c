"""Which chat rooms are active and their recent messages: pure state, time injected."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import Callable

#: Recent messages kept per room (memory bound: about MAX_TEXT_LENGTH * this per room).
RECENT_PER_ROOM = 50
#: A room with no message for this long is no longer listed, and its state is dropped.
ROOM_IDLE_SECONDS = 3600.0
#: Rooms tracked at once; the least recently active is dropped beyond this.
MAX_ROOMS = 1000


class Rooms:
    def __init__(self, clock: Callable[[], float] = time.time, *, recent: int = RECENT_PER_ROOM,
                 idle_seconds: float = ROOM_IDLE_SECONDS, max_rooms: int = MAX_ROOMS):
        self._clock, self._recent, self._idle, self._max = clock, recent, idle_seconds, max_rooms
        self._rooms: OrderedDict[str, tuple[float, deque]] = OrderedDict()

    def add(self, room: str, message: dict) -> None:
        _, messages = self._rooms.pop(room, (None, deque(maxlen=self._recent)))
        messages.append(message)
        self._rooms[room] = (self._clock(), messages)
        while len(self._rooms) > self._max:
            self._rooms.popitem(last=False)

    def _expire(self) -> None:
        cutoff = self._clock() - self._idle
        while self._rooms and next(iter(self._rooms.values()))[0] < cutoff:
            self._rooms.popitem(last=False)

    def active(self) -> list[dict]:
        """Active rooms, most recently active first."""
        self._expire()
        return [
            {"room": room, "messages": len(messages), "last_activity": at}
            for room, (at, messages) in reversed(self._rooms.items())
        ]

    def recent(self, room: str) -> list[dict]:
        self._expire()
        return list(self._rooms.get(room, (None, ()))[1])

"""Who is in which room, keyed by WAMP session: pure state, no I/O.

A member is a session that called presence.join; it leaves by presence.leave or when its session
ends (the router's wamp.session.on_leave meta event), so a killed client cannot linger.
"""

from __future__ import annotations

#: Rooms one session may be present in at once.
MAX_ROOMS_PER_SESSION = 20


class Roster:
    def __init__(self, max_rooms_per_session: int = MAX_ROOMS_PER_SESSION):
        self._rooms: dict[str, dict[int, dict]] = {}
        self._sessions: dict[int, set[str]] = {}
        self._max = max_rooms_per_session

    def join(self, room: str, session: int, nick: str, authid: str | None) -> tuple[dict, bool]:
        """Add or update a member; returns (member, changed)."""
        joined = self._sessions.setdefault(session, set())
        if room not in joined and len(joined) >= self._max:
            raise OverflowError(f"a session may be present in at most {self._max} rooms")
        member = {"session": session, "nick": nick, "authid": authid}
        members = self._rooms.setdefault(room, {})
        changed = members.get(session) != member
        members[session] = member
        joined.add(room)
        return member, changed

    def leave(self, room: str, session: int) -> dict | None:
        members = self._rooms.get(room, {})
        member = members.pop(session, None)
        if not members:
            self._rooms.pop(room, None)
        rooms = self._sessions.get(session)
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del self._sessions[session]
        return member

    def leave_all(self, session: int) -> list[tuple[str, dict]]:
        """Remove a session from every room; returns (room, member) for each it left."""
        left = []
        for room in sorted(self._sessions.get(session, ())):
            member = self.leave(room, session)
            if member:
                left.append((room, member))
        return left

    def members(self, room: str) -> list[dict]:
        return sorted(self._rooms.get(room, {}).values(), key=lambda m: (m["nick"].lower(), m["session"]))

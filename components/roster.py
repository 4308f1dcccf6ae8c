"""Who is in which room: pure state, no I/O.

A *member* is a person: a signed-in user (by authid), or an anonymous browser (by the client id
its tabs share), or else a single session. A member may be present through several sessions (tabs);
it joins with its first session and leaves with its last, so several tabs count once. Sessions
leave by presence.leave or when they end (the router's wamp.session.on_leave meta event), so a
killed client cannot linger.
"""

from __future__ import annotations

#: Rooms one session may be present in at once.
MAX_ROOMS_PER_SESSION = 20


def ordered(records) -> list[dict]:
    """Members as presence.list answers them: by nick (case-insensitive), then id."""
    return sorted(records, key=lambda m: (m["nick"].lower(), m["id"]))


def member_id(session: int, authrole: str | None, authid: str | None, client: str | None) -> str:
    if authrole == "user" and authid:
        return f"user:{authid}"
    if client:
        return f"client:{client}"
    return f"session:{session}"


class Roster:
    def __init__(self, max_rooms_per_session: int = MAX_ROOMS_PER_SESSION):
        # room -> member id -> {"id", "nick", "authid"}; room -> member id -> its sessions there
        self._members: dict[str, dict[str, dict]] = {}
        self._sessions_of: dict[str, dict[str, set[int]]] = {}
        # session -> room -> member id
        self._by_session: dict[int, dict[str, str]] = {}
        self._max = max_rooms_per_session

    def join(self, room: str, session: int, member: str, nick: str, authid: str | None) -> tuple[dict, bool]:
        """Add a session to a room as `member`; returns (member record, changed: publish a join)."""
        rooms = self._by_session.setdefault(session, {})
        if room not in rooms and len(rooms) >= self._max:
            raise OverflowError(f"a session may be present in at most {self._max} rooms")
        previous = rooms.get(room)
        if previous is not None and previous != member:
            self.leave(room, session)
            rooms = self._by_session.setdefault(session, {})
        record = {"id": member, "nick": nick, "authid": authid}
        members = self._members.setdefault(room, {})
        changed = members.get(member) != record
        members[member] = record
        self._sessions_of.setdefault(room, {}).setdefault(member, set()).add(session)
        rooms[room] = member
        return record, changed

    def leave(self, room: str, session: int) -> dict | None:
        """Remove a session from a room; returns the member record if that was its last session."""
        rooms = self._by_session.get(session)
        member = rooms.pop(room, None) if rooms is not None else None
        if rooms is not None and not rooms:
            del self._by_session[session]
        if member is None:
            return None
        sessions = self._sessions_of[room][member]
        sessions.discard(session)
        if sessions:
            return None
        del self._sessions_of[room][member]
        record = self._members[room].pop(member)
        if not self._members[room]:
            del self._members[room]
            del self._sessions_of[room]
        return record

    def leave_all(self, session: int) -> list[tuple[str, dict]]:
        """Remove a session from every room; returns (room, member) for each member that left."""
        left = []
        for room in sorted(self._by_session.get(session, {})):
            record = self.leave(room, session)
            if record:
                left.append((room, record))
        return left

    def present(self, room: str, session: int) -> bool:
        return room in self._by_session.get(session, {})

    def members(self, room: str) -> list[dict]:
        return ordered(self._members.get(room, {}).values())

"""The cluster's shared presence roster: presence_store's scripts run against Redis (blocking calls).

Every method blocks on Redis and raises link.Error when it does not answer: the presence component
calls them on a thread of its own, never on the reactor. The meaning of each answer is
presence_store's; this class only sends the scripts (EVALSHA, loaded again if Redis lost them).
"""

from __future__ import annotations

from switchboard.components import presence_store as store
from switchboard.components.roster import MAX_ROOMS_PER_SESSION
from switchboard.router.cluster import link, wire


class SharedRoster:
    def __init__(self, client, realm: str, node: str, max_rooms_per_session: int = MAX_ROOMS_PER_SESSION):
        self.prefix = wire.presence_prefix(realm)
        self.node = node
        self._max = max_rooms_per_session
        self._redis = client
        self._join = client.register_script(store.JOIN)
        self._leave = client.register_script(store.LEAVE)
        self._leave_all = client.register_script(store.LEAVE_ALL)
        self._beat = client.register_script(store.BEAT)
        self._reap = client.register_script(store.REAP)

    @classmethod
    def connect(cls, url: str, realm: str, node: str, **kwargs) -> "SharedRoster":
        return cls(link.client(url), realm, node, **kwargs)

    def join(self, room: str, session: int, member: str, nick: str, authid: str | None) -> tuple[dict, bool, list]:
        """As Roster.join, and the room's members after it; OverflowError over the per-session cap."""
        record = {"id": member, "nick": nick, "authid": authid}
        args = [self.prefix, room, session, member, store.encode_record(record), self.node, self._max]
        reply = self._join(args=args)
        if reply[0] == store.REFUSED:
            raise OverflowError(f"a session may be present in at most {self._max} rooms")
        return record, bool(reply[1]), store.members(reply[2])

    def leave(self, room: str, session: int) -> tuple[bool, dict | None]:
        """(whether the session was in the room, the member's record if it was its last session)."""
        reply = self._leave(args=[self.prefix, room, session])
        return bool(reply), (store.decode_record(reply[1]) if len(reply) > 1 else None)

    def leave_all(self, session: int) -> list[tuple[str, dict]]:
        return store.leaves(self._leave_all(args=[self.prefix, session]))

    def members(self, room: str) -> list[dict]:
        return store.members(self._redis.hvals(self.prefix + "members:" + room))

    def sessions(self) -> set[int]:
        """This node's sessions that are in at least one room."""
        return store.sessions(self._redis.smembers(self.prefix + "sessions:" + self.node))

    def beat(self, ttl: float = store.HEARTBEAT_TTL) -> bool:
        """Renew this node's heartbeat; False if it had expired (its sessions may have been removed)."""
        return bool(self._beat(args=[self.prefix, self.node, int(ttl * 1000)]))

    def reap(self, batch: int = store.REAP_BATCH) -> tuple[list[str], list[tuple[str, dict]]]:
        """Remove the sessions of every other node whose heartbeat expired, `batch` sessions per
        script: (the nodes forgotten, the members that left)."""
        nodes, leaves, more = [], [], True
        while more:
            dead, flat, more = self._reap(args=[self.prefix, self.node, batch])
            nodes.extend(n.decode() if isinstance(n, bytes) else n for n in dead)
            leaves.extend(store.leaves(flat))
        return nodes, leaves

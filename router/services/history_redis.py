"""The event history of a cluster, in its Redis: the HistoryStore interface, shared by every node.

On a cluster node (SWITCHBOARD_REDIS_URL set) the history component records into this store instead
of SQLite, on its own thread as before (redis-py is synchronous), and only for events published on
its own node (router/patches/relay.py `origin_only`): each event is written once, by the node that
received the publish, and every node reads the same history. The scripts
(router/cluster/history_lua.py) assign positions inside Redis, so the positions of a topic are one
contiguous sequence whichever nodes write to it, and a batch of events is one round trip.

The byte cap (`history_max_bytes`) counts the bytes of the stored events (payload JSON plus a short
head each), summed in a counter as they are written and deleted: Redis's own overhead per event
(about 200 bytes for the sorted set entry and the publication index, docs/history.md) comes on top. Counts and
bytes (`events`, `bytes`) are the whole cluster's, as of this node's last write.

Redis unreachable: every method raises StoreUnavailable (history.py logs one line, answers reads with
switchboard.error.unavailable and lets acknowledgements go).
"""

from __future__ import annotations

import redis
from switchboard.router.cluster import history_lua as lua
from switchboard.router.cluster import link, wire
from switchboard.router.services.history_store import BYTES_LOW_WATER, Eviction, StoredEvent, StoreUnavailable

#: what says Redis cannot take writes now (gone, slow, a replica): anything else is a fault, logged as such
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError)


class RedisHistoryStore:
    """append_many / read / trim / evict over the cluster's Redis, for one realm."""

    def __init__(self, url: str, realm: str, *, client=None):
        self.url, self.realm = url, realm
        self.prefix = wire.history_prefix(realm)
        self._redis = client or link.client(url)
        self._append = self._redis.register_script(lua.APPEND)
        self._trim = self._redis.register_script(lua.TRIM)
        self._drop = self._redis.register_script(lua.DROP)
        self._evict = self._redis.register_script(lua.EVICT)
        #: the cluster's events and bytes as of the last script (for /metrics; no round trip to read)
        self.events = self.bytes = 0
        try:  # a node starts whether or not Redis is there: its first write tells
            self._totals(*(n or 0 for n in self._redis.hmget(self._key("totals"), "events", "bytes")))
        except link.Error:
            pass

    def _key(self, kind: str, topic: str = "") -> str:
        return self.prefix + kind + topic

    def _do(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UNREACHABLE as e:
            raise StoreUnavailable(f"Redis: {e or type(e).__name__}") from e

    def _totals(self, events, used) -> None:
        self.events, self.bytes = int(events), int(used)

    # --- writing ------------------------------------------------------------------------------
    def append_many(
        self, events: list[tuple[str, int | None, float, list, dict]], holes: dict[str, int] | None = None
    ) -> list[int]:
        """Store (topic, publication, published, args, kwargs) in order, after `holes` (topic -> positions
        no event takes: events lost), in one script; return the events' positions."""
        if not events and not holes:
            return []
        out = self._do(self._append, args=lua.append_args(self.prefix, events, holes))
        self._totals(out[-2], out[-1])
        return [int(p) for p in out[:-2]]

    def trim(self, topic: str, *, max_events: int, min_published: float, quick: bool = False) -> int:
        return self.trim_many([(topic, max_events, min_published)], quick=quick)

    def trim_many(self, topics: list[tuple[str, int, float]], *, quick: bool = False) -> int:
        """`trim` for each (topic, max_events, min_published), in one script."""
        if not topics:
            return 0
        argv = [self.prefix, "1" if quick else "0", lua.SCAN]
        for topic, max_events, min_published in topics:
            argv += [topic, int(max_events), repr(float(min_published))]
        dropped, events, used = self._do(self._trim, args=argv)
        self._totals(events, used)
        return int(dropped)

    def drop(self, topics: list[str]) -> None:
        if topics:
            self._totals(*self._do(self._drop, args=[self.prefix, *topics]))

    def evict(self, *, max_topics: int, max_bytes: int, keep: frozenset[str] | set[str] = frozenset()) -> Eviction:
        argv = [self.prefix, int(max_topics), int(max_bytes), repr(BYTES_LOW_WATER), *sorted(keep)]
        for_topics, for_bytes, events, used = self._do(self._evict, args=argv)
        self._totals(events, used)
        return Eviction(int(for_topics), int(for_bytes))

    def claim_pass(self, seconds: float) -> bool:
        """True for the one node that runs the periodic age trim over every topic in the next
        `seconds` (the others skip it: they would redo the same work on the same keys)."""
        return bool(self._do(self._redis.set, self._key("pass"), "1", nx=True, px=max(1, int(seconds * 900))))

    # --- reading ------------------------------------------------------------------------------
    def read(self, topic: str, *, after: int = 0, limit: int = 100) -> list[StoredEvent]:
        found = self._do(self._redis.zrangebyscore, self._key("e:", topic), f"({after}", "+inf", start=0, num=limit)
        return [StoredEvent(topic, *lua.decode(member)) for member in found]

    def position_of(self, topic: str, publication: int) -> int | None:
        found = self._do(self._redis.hget, self._key("p:", topic), str(publication))
        return int(found) if found is not None else None

    def first_position(self, topic: str) -> int | None:
        found = self._do(self._redis.zrange, self._key("e:", topic), 0, 0, withscores=True)
        return int(found[0][1]) if found else None

    def last_position(self, topic: str) -> int:
        return int(self._do(self._redis.hget, self._key("last"), topic) or 0)

    def topics(self) -> list[str]:
        return [t.decode() for t in self._do(self._redis.hkeys, self._key("last"))]

    def topic_count(self) -> int:
        return int(self._do(self._redis.hlen, self._key("last")))

    def count(self, topic: str | None = None) -> int:
        if topic is None:
            return int(self._do(self._redis.hget, self._key("totals"), "events") or 0)
        return int(self._do(self._redis.zcard, self._key("e:", topic)))

    def used_bytes(self) -> int:
        """The bytes of the stored events, cluster-wide (what the byte cap counts)."""
        return int(self._do(self._redis.hget, self._key("totals"), "bytes") or 0)

    def close(self) -> None:
        self._redis.close()

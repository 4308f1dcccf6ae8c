"""Durable event history in SQLite: one table of events, one of topics, bounded by retention and caps.

Synchronous and single-threaded by design: the history component runs every call on one dedicated
thread, so the router's reactor never waits on the disk. WAL mode with synchronous=NORMAL: a
committed batch survives a process crash; the last batch may be lost on power failure.

Retention bounds each topic (`trim`); `evict` bounds the store as a whole: the number of topics and
the bytes its pages hold. It drops whole topics, least recently written first, in one transaction,
so a public site keeps its recent activity and no active topic loses events from its middle.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    topic       TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    publication INTEGER,
    published   REAL    NOT NULL,
    payload     TEXT    NOT NULL,
    PRIMARY KEY (topic, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_publication ON events (topic, publication);
CREATE TABLE IF NOT EXISTS topics (
    topic          TEXT    NOT NULL PRIMARY KEY,
    last_position  INTEGER NOT NULL,
    last_published REAL    NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS topics_activity ON topics (last_published);
"""
#: a store made before the topics table existed gets it filled from its events, once
BACKFILL_TOPICS = "INSERT OR IGNORE INTO topics SELECT topic, MAX(position), MAX(published) FROM events GROUP BY topic"
#: the WAL file is cut back to this after a checkpoint (SQLite otherwise keeps its largest size)
WAL_SIZE_LIMIT = 4 * 1024 * 1024
#: when the byte cap bites, evict down to this share of it, so the next batches do not evict again
BYTES_LOW_WATER = 0.9


@dataclass(frozen=True)
class StoredEvent:
    topic: str
    position: int
    publication: int | None
    published: float
    args: list
    kwargs: dict

    def as_dict(self) -> dict:
        return {
            "topic": self.topic,
            "position": self.position,
            "publication": self.publication,
            "published": self.published,
            "args": self.args,
            "kwargs": self.kwargs,
        }


@dataclass(frozen=True)
class Eviction:
    """What one `evict` dropped: topics over the topic cap, and topics over the byte cap."""

    for_topics: int = 0
    for_bytes: int = 0

    @property
    def topics(self) -> int:
        return self.for_topics + self.for_bytes


class StoreUnavailable(Exception):
    """The store cannot be reached for now (a cluster's Redis): the history component logs one line
    while it lasts, not one per batch, and tries again with the next."""


class HistoryStore:
    """append_many / read / trim / evict over one SQLite file (or ":memory:").

    router/services/history_redis.py's RedisHistoryStore has the same interface, for a cluster."""

    def __init__(self, path: str | Path):
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        had_topics = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'topics'").fetchone()
        self._db.executescript(SCHEMA)
        if not had_topics:
            self._db.execute(BACKFILL_TOPICS)
        self._load_positions()
        #: events held, kept up to date by every write and delete (for /metrics, without a COUNT scan)
        self.events = self.count()
        #: bytes of pages in use as last measured (each `evict` measures), for /metrics
        self.bytes = self.used_bytes()

    def _load_positions(self) -> None:
        self._last: dict[str, int] = dict(self._db.execute("SELECT topic, last_position FROM topics"))

    def last_position(self, topic: str) -> int:
        return self._last.get(topic, 0)

    def append_many(
        self, events: list[tuple[str, int | None, float, list, dict]], holes: dict[str, int] | None = None
    ) -> list[int]:
        """Store (topic, publication, published, args, kwargs) in order, after `holes` (topic -> positions
        no event takes: events lost), in one transaction; return the events' positions."""
        rows, positions, touched = [], [], {}
        for topic, n in (holes or {}).items():
            if n > 0:
                self._last[topic] = self._last.get(topic, 0) + n
                touched[topic] = (topic, self._last[topic], 0.0)
        for topic, publication, published, args, kwargs in events:
            position = self._last.get(topic, 0) + 1
            self._last[topic] = position
            positions.append(position)
            touched[topic] = (topic, position, published)
            rows.append((topic, position, publication, published, json.dumps([args, kwargs], separators=(",", ":"))))
        try:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
            self._db.executemany(
                "INSERT INTO topics VALUES (?, ?, ?) ON CONFLICT (topic) DO UPDATE SET "
                "last_position = excluded.last_position, last_published = MAX(last_published, excluded.last_published)",
                list(touched.values()),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        self.events += len(rows)
        return positions

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._load_positions()
        self.events = self.count()

    def position_of(self, topic: str, publication: int) -> int | None:
        row = self._db.execute(
            "SELECT position FROM events WHERE topic = ? AND publication = ?", (topic, publication)
        ).fetchone()
        return row[0] if row else None

    def first_position(self, topic: str) -> int | None:
        row = self._db.execute("SELECT MIN(position) FROM events WHERE topic = ?", (topic,)).fetchone()
        return row[0]

    def read(self, topic: str, *, after: int = 0, limit: int = 100) -> list[StoredEvent]:
        rows = self._db.execute(
            "SELECT position, publication, published, payload FROM events "
            "WHERE topic = ? AND position > ? ORDER BY position LIMIT ?",
            (topic, after, limit),
        )
        return [StoredEvent(topic, pos, pub, published, *json.loads(payload)) for pos, pub, published, payload in rows]

    def trim(self, topic: str, *, max_events: int, min_published: float, quick: bool = False) -> int:
        """Drop events beyond the newest `max_events` and those published before `min_published`.

        The topic keeps its position counter (a later event continues the numbering). `quick` (after
        each write batch) looks for old events only when the oldest is old: one primary-key lookup,
        not a scan of the topic, since times grow with positions unless the clock steps back (then
        the periodic full trim finds them)."""
        cutoff = self._last.get(topic, 0) - max_events
        dropped = 0
        if cutoff > 0:
            dropped += self._db.execute(
                "DELETE FROM events WHERE topic = ? AND position <= ?", (topic, cutoff)
            ).rowcount
        if quick:
            oldest = self._db.execute(
                "SELECT published FROM events WHERE topic = ? ORDER BY position LIMIT 1", (topic,)
            ).fetchone()
            if oldest is None or oldest[0] >= min_published:
                self.events -= dropped
                return dropped
        dropped += self._db.execute(
            "DELETE FROM events WHERE topic = ? AND published < ?", (topic, min_published)
        ).rowcount
        self.events -= dropped
        return dropped

    def trim_many(self, topics: list[tuple[str, int, float]], *, quick: bool = False) -> int:
        """`trim` for each (topic, max_events, min_published)."""
        return sum(self.trim(t, max_events=n, min_published=m, quick=quick) for t, n, m in topics)

    def claim_pass(self, seconds: float) -> bool:
        """Whether this node runs the periodic age trim now: always, the store is its own."""
        return True

    def drop(self, topics: list[str]) -> None:
        """Forget topics whole (events and position counter), in one transaction."""
        if not topics:
            return
        keys = [(t,) for t in topics]
        try:
            self._db.execute("BEGIN")
            dropped = self._db.executemany("DELETE FROM events WHERE topic = ?", keys).rowcount
            self._db.executemany("DELETE FROM topics WHERE topic = ?", keys)
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        self.events -= dropped
        for topic in topics:
            self._last.pop(topic, None)

    def evict(self, *, max_topics: int, max_bytes: int, keep: frozenset[str] | set[str] = frozenset()) -> Eviction:
        """Keep at most `max_topics` topics and `max_bytes` of pages, dropping the least recently
        written topics whole. Over the byte cap it evicts down to BYTES_LOW_WATER of it and never
        drops a topic in `keep` (those just written): only the topic cap may take them."""
        for_topics = 0
        excess = len(self._last) - max_topics
        if excess > 0:
            victims = self._least_recent(excess)
            self.drop(victims)
            for_topics = len(victims)
        for_bytes = 0
        self.bytes = self.used_bytes()
        if self.bytes > max_bytes:
            target = max_bytes * BYTES_LOW_WATER
            while (used := self.used_bytes()) > target:
                # drop the share of topics the excess is of the whole (at least one), then measure again
                share = math.ceil(len(self._last) * (used - target) / used)
                victims = [t for t in self._least_recent(share + len(keep)) if t not in keep][: max(1, share)]
                if not victims:
                    break
                self.drop(victims)
                for_bytes += len(victims)
            self.bytes = self.used_bytes()
        return Eviction(for_topics, for_bytes)

    def _least_recent(self, n: int) -> list[str]:
        rows = self._db.execute("SELECT topic FROM topics ORDER BY last_published, topic LIMIT ?", (n,))
        return [t for (t,) in rows]

    def used_bytes(self) -> int:
        """Bytes of the database's pages in use (its file size less its free pages)."""
        page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        return (pages - free) * page_size

    def topics(self) -> list[str]:
        return [t for (t,) in self._db.execute("SELECT topic FROM topics")]

    def topic_count(self) -> int:
        return len(self._last)

    def count(self, topic: str | None = None) -> int:
        if topic is None:
            return self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM events WHERE topic = ?", (topic,)).fetchone()[0]

    def close(self) -> None:
        self._db.close()

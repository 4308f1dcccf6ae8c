"""Durable event history in SQLite: one table, a position per topic, bounded by retention.

Synchronous and single-threaded by design: the history component runs every call on one dedicated
thread, so the router's reactor never waits on the disk. WAL mode with synchronous=NORMAL: a
committed batch survives a process crash; the last batch may be lost on power failure.
"""

from __future__ import annotations

import json
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
"""


@dataclass(frozen=True)
class StoredEvent:
    topic: str
    position: int
    publication: int | None
    published: float
    args: list
    kwargs: dict

    def as_dict(self) -> dict:
        return {"topic": self.topic, "position": self.position, "publication": self.publication,
                "published": self.published, "args": self.args, "kwargs": self.kwargs}


class HistoryStore:
    """append_many / read / trim over one SQLite file (or ":memory:")."""

    def __init__(self, path: str | Path):
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._last: dict[str, int] = dict(self._db.execute("SELECT topic, MAX(position) FROM events GROUP BY topic"))

    def last_position(self, topic: str) -> int:
        return self._last.get(topic, 0)

    def append_many(self, events: list[tuple[str, int | None, float, list, dict]]) -> list[int]:
        """Store (topic, publication, published, args, kwargs) in order, in one transaction; return positions."""
        rows, positions = [], []
        for topic, publication, published, args, kwargs in events:
            position = self._last.get(topic, 0) + 1
            self._last[topic] = position
            positions.append(position)
            rows.append((topic, position, publication, published,
                         json.dumps([args, kwargs], separators=(",", ":"))))
        try:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            self._last = dict(self._db.execute("SELECT topic, MAX(position) FROM events GROUP BY topic"))
            raise
        return positions

    def position_of(self, topic: str, publication: int) -> int | None:
        row = self._db.execute("SELECT position FROM events WHERE topic = ? AND publication = ?",
                               (topic, publication)).fetchone()
        return row[0] if row else None

    def first_position(self, topic: str) -> int | None:
        row = self._db.execute("SELECT MIN(position) FROM events WHERE topic = ?", (topic,)).fetchone()
        return row[0]

    def read(self, topic: str, *, after: int = 0, limit: int = 100) -> list[StoredEvent]:
        rows = self._db.execute(
            "SELECT position, publication, published, payload FROM events "
            "WHERE topic = ? AND position > ? ORDER BY position LIMIT ?", (topic, after, limit))
        return [StoredEvent(topic, pos, pub, published, *json.loads(payload)) for pos, pub, published, payload in rows]

    def trim(self, topic: str, *, max_events: int, min_published: float) -> int:
        """Drop events beyond the newest `max_events` and those published before `min_published`."""
        cutoff = self._last.get(topic, 0) - max_events
        cur = self._db.execute("DELETE FROM events WHERE topic = ? AND (position <= ? OR published < ?)",
                               (topic, cutoff, min_published))
        return cur.rowcount

    def topics(self) -> list[str]:
        return [t for (t,) in self._db.execute("SELECT DISTINCT topic FROM events")]

    def count(self, topic: str | None = None) -> int:
        if topic is None:
            return self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM events WHERE topic = ?", (topic,)).fetchone()[0]

    def close(self) -> None:
        self._db.close()

"""The hub's replay memory in SQLite: a bridge.replay.ReplayStore that survives restarts.

Used ticket ids, bridge nonces and published event ids are rows of one table (one `kind` each) in
one file of the node directory (`replay.sqlite3`), opened by the router worker. Each statement is
its own transaction, run on the reactor thread: a check is one primary-key lookup and a write one
INSERT. WAL mode with synchronous=NORMAL commits without waiting for the disk: a committed key
survives a process crash or restart, the last ones may be lost on power failure.

Checkpoints (the WAL copied into the database, with fsyncs) are SQLite's own, inside the commit
that crosses 1000 WAL pages: about one write in 250 pays a few milliseconds for them. A background
checkpoint thread was tried: under steady writes it let the WAL grow, and stalled the writer as
long when cutting it back.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from bridge.replay import ReplayCacheFull

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    kind    TEXT NOT NULL,
    key     TEXT NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_expiry ON seen (kind, expires);
"""
#: The file's name in the node directory (resolved there by router.node.render_config).
DEFAULT_DATABASE = "replay.sqlite3"
TICKETS = "ticket"
BRIDGE_NONCES = "bridge_nonce"
EVENT_IDS = "event_id"


class ReplayStoreError(ReplayCacheFull):
    """The database could not answer: the caller refuses, as with a full cache, rather than risk a replay."""


_shared: dict[str, sqlite3.Connection] = {}
_shared_lock = threading.Lock()


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (and create) the replay database; ":memory:" for a throwaway one."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), isolation_level=None, timeout=1.0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    return db


def shared(path: str | Path) -> sqlite3.Connection:
    """The process's one connection to `path` (the ticket authenticator and the bridge share it)."""
    key = str(path) if str(path) == ":memory:" else str(Path(path).resolve())
    with _shared_lock:
        if key not in _shared:
            _shared[key] = connect(path)
        return _shared[key]


class SQLiteStore:
    """One kind of key in the replay database; the row count is kept in memory (one owner per kind)."""

    def __init__(self, db: sqlite3.Connection, kind: str):
        self._db, self._kind = db, kind
        self._count = self._run("SELECT COUNT(*) FROM seen WHERE kind = ?", (kind,)).fetchone()[0]

    def _run(self, sql: str, params: tuple) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, params)
        except sqlite3.Error as e:
            raise ReplayStoreError(f"replay database: {e}") from e

    def expiry(self, key: str) -> float | None:
        row = self._run("SELECT expires FROM seen WHERE kind = ? AND key = ?", (self._kind, key)).fetchone()
        return None if row is None else row[0]

    def put(self, key: str, expires: float) -> None:
        if self._run("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", (self._kind, key, expires)).rowcount:
            self._count += 1
        else:
            self._run("UPDATE seen SET expires = ? WHERE kind = ? AND key = ?", (expires, self._kind, key))

    def _delete_first(self, condition: str, params: tuple, limit: int | None) -> int:
        gone = self._run(f"DELETE FROM seen WHERE kind = ? AND key IN (SELECT key FROM seen WHERE kind = ? "
                         f"{condition} ORDER BY expires LIMIT ?)",
                         (self._kind, self._kind, *params, -1 if limit is None else limit)).rowcount
        self._count -= gone
        return gone

    def purge(self, now: float, limit: int | None) -> int:
        return self._delete_first("AND expires <= ?", (now,), limit)

    def evict_oldest(self, count: int) -> int:
        return self._delete_first("", (), count)

    def __len__(self) -> int:
        return self._count


def open_store(path: str | Path, kind: str) -> SQLiteStore:
    """`kind` in the process's shared connection to `path`."""
    return SQLiteStore(shared(path), kind)

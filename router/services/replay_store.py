"""The hub's replay memory on disk: keys checked in memory on the reactor, written behind by one thread.

Used ticket ids, bridge nonces and published event ids are rows of one table (one `kind` each) in
one file of the node directory (`replay.sqlite3`). Each kind's `switchboard.bridge.replay.NonceCache` answers
from memory (a `WriteBehindStore`, loaded from the file once at start), so a check never waits on
the disk: a synchronous INSERT on the reactor cost up to 20-50 ms whenever SQLite checkpointed its
WAL inside the commit, and stalled all routing for that long.

One `Writer` thread per file commits the accepted keys in batches (up to BATCH_SIZE keys, or the
oldest waiting BATCH_DELAY seconds) and deletes expired rows and rows beyond a kind's cap.
`Writer.when_durable` tells a caller once every key accepted so far is committed, so a reply can
wait for it without blocking the reactor. WAL with synchronous=NORMAL: a commit survives a process
crash; the last commits may be lost on power failure.
"""

from __future__ import annotations

import atexit
import json
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Callable

from switchboard.bridge.replay import MemoryStore, ReplayCacheFull
from twisted.logger import Logger

log = Logger()

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    kind    TEXT NOT NULL,
    key     TEXT NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_expiry ON seen (kind, expires);
"""
INSERT_BATCH = (
    "INSERT OR IGNORE INTO seen SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
    "json_extract(value, '$[2]') FROM json_each(?)"
)
#: The file's name in the node directory (resolved there by switchboard.router.node.process.render_config).
DEFAULT_DATABASE = "replay.sqlite3"
TICKETS = "ticket"
BRIDGE_NONCES = "bridge_nonce"
EVENT_IDS = "event_id"
#: Keys per commit at most, and how long the first key of a batch waits for more (seconds).
BATCH_SIZE = 1000
BATCH_DELAY = 0.01
#: Seconds between the writer's deletes of expired rows; rows deleted per transaction at most.
PURGE_INTERVAL = 1.0
DELETE_BATCH = 10_000
#: Seconds a failed commit waits before it is tried again (new keys are refused meanwhile).
RETRY_DELAY = 1.0
#: How long a clean shutdown waits for the last batch.
CLOSE_TIMEOUT = 10.0


class ReplayStoreError(ReplayCacheFull):
    """The database cannot take keys: the caller refuses, as with a full cache, rather than risk a replay."""


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (and create) the replay database, usable from any one thread at a time."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), isolation_level=None, timeout=5.0, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    return db


class Writer:
    """The one thread that writes a replay database; every public method but the thread's own is the caller's.

    `put` only appends to a list under a lock (no I/O). `on_commit(batch)` runs on the writer thread
    after each commit (a hook for tests); `clock` decides which rows have expired.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        batch_size: int = BATCH_SIZE,
        delay: float = BATCH_DELAY,
        clock: Callable[[], float] = time.time,
        purge_interval: float = PURGE_INTERVAL,
        on_commit: Callable[[list], None] | None = None,
    ):
        self.path = Path(path)
        self._batch_size, self._delay, self._clock, self._purge_interval = batch_size, delay, clock, purge_interval
        self._on_commit = on_commit
        self._db = connect(self.path)  # created here, so a bad path fails at start, not in the thread
        self._caps: dict[str, int] = {}
        self._counts = dict(self._db.execute("SELECT kind, COUNT(*) FROM seen GROUP BY kind"))
        self._cond = threading.Condition()
        self._queue: list[tuple[str, str, float]] = []
        self._first_at = 0.0  # monotonic time the oldest queued key arrived
        self._queued = self._committed = 0  # keys ever queued / ever committed (in queue order)
        self._waiters: list[tuple[int, bool, Callable]] = []  # (keys queued then, after the purge?, callback)
        self._error: Exception | None = None
        self._stopping = False
        self._next_purge = float("-inf")
        self._thread = threading.Thread(target=self._run, name="switchboard-replay", daemon=True)
        self._thread.start()

    # --- the callers' side (the reactor) -----------------------------------------------------
    def load(self, kind: str, limit: int, max_entries: int | None = None) -> list[tuple[str, float]]:
        """The `limit` latest-expiring keys of `kind` (all unexpired ones fit); caps the kind at `max_entries`."""
        with self._cond:
            if max_entries is not None:
                self._caps[kind] = max_entries
        reader = sqlite3.connect(str(self.path), timeout=5.0)  # WAL: reads beside the writer thread
        try:
            rows = reader.execute(
                "SELECT key, expires FROM seen WHERE kind = ? ORDER BY expires DESC LIMIT ?", (kind, limit)
            ).fetchall()
        finally:
            reader.close()
        rows.reverse()
        return rows

    def put(self, kind: str, key: str, expires: float) -> None:
        """Queue one key for the next batch; ReplayStoreError while the database refuses writes."""
        with self._cond:
            if self._error is not None or self._stopping:
                raise ReplayStoreError(f"replay database: {self._error or 'closed'}; new keys refused")
            if not self._queue:
                self._first_at = time.monotonic()
            self._queue.append((kind, key, expires))
            self._queued += 1
            if len(self._queue) == 1 or len(self._queue) >= self._batch_size:
                self._cond.notify()

    def when_durable(self, callback: Callable[[Exception | None], None]) -> None:
        """Call `callback(None)` once every key put so far is committed (at once if it is, else on the writer
        thread, which then commits without waiting for more), or `callback(error)` if it cannot be."""
        self._wait(callback, after_purge=False)

    def flush(self, timeout: float | None = CLOSE_TIMEOUT) -> bool:
        """Block until every key put so far is committed and a due purge has run; False on timeout or error."""
        done = threading.Event()
        outcome: list = []
        self._wait(lambda error: (outcome.append(error), done.set()), after_purge=True)
        return done.wait(timeout) and outcome[0] is None

    def _wait(self, callback: Callable[[Exception | None], None], *, after_purge: bool) -> None:
        with self._cond:
            done = self._committed >= self._queued and not after_purge
            failed = self._stopping or not self._thread.is_alive()
            if not (done or failed):
                self._waiters.append((self._queued, after_purge, callback))
                self._cond.notify()
        if done or failed:
            callback(None if done or self._committed >= self._queued else ReplayStoreError("replay writer stopped"))

    def close(self, timeout: float = CLOSE_TIMEOUT) -> bool:
        """Flush and stop the thread (a clean shutdown); True if everything queued was committed."""
        flushed = self.flush(timeout) if self._thread.is_alive() else False
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)
        return flushed or self._committed >= self._queued

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping

    # --- the writer thread -------------------------------------------------------------------
    def _urgent(self) -> bool:
        return bool(self._waiters)  # a waiter exists only while something it waits for is not done

    def _take(self) -> list[tuple[str, str, float]] | None:
        """Wait for a batch (or a purge, or a flush) to be due; None when stopping."""
        with self._cond:
            while True:
                if self._stopping and (not self._queue or self._error is not None):
                    return None
                if self._error is not None:
                    self._cond.wait(RETRY_DELAY)  # then try the failed batch again (sooner for a waiter)
                    return self._queue[: self._batch_size]
                if self._queue and (
                    self._stopping
                    or self._urgent()
                    or len(self._queue) >= self._batch_size
                    or time.monotonic() >= self._first_at + self._delay
                ):
                    return self._queue[: self._batch_size]
                if not self._queue and (self._waiters or self._clock() >= self._next_purge):
                    return []
                if self._queue:
                    self._cond.wait(self._first_at + self._delay - time.monotonic())
                else:
                    self._cond.wait(self._purge_interval)

    def _run(self) -> None:
        try:
            while (batch := self._take()) is not None:
                try:
                    self._write(batch)
                except Exception as e:  # sqlite3.Error, a full disk: keep the batch, refuse new keys, retry
                    self._failed(e)
                    continue
                self._committed_batch(batch)
                try:
                    self._cap()
                    if self._clock() >= self._next_purge:
                        self._purge()
                except Exception as e:  # rows wait for the next purge; keys are still written
                    self._next_purge = self._clock() + self._purge_interval
                    log.warn("replay database: purge failed: {error}", error=f"{type(e).__name__}: {e}")
                self._fire(after_purge=True)
        finally:
            self._db.close()

    def _write(self, batch: list[tuple[str, str, float]]) -> None:
        if not batch:
            return
        self._db.execute("BEGIN")
        try:
            # one statement per batch, not one per key: each statement hands the GIL back and forth, and a
            # busy reactor thread would be made to wait for this thread at every hand-over
            inserted = self._db.execute(INSERT_BATCH, (json.dumps(batch),)).rowcount
            if inserted < len(batch):  # a key accepted again after it expired: its row gets the new expiry
                self._db.executemany(
                    "UPDATE seen SET expires = MAX(expires, ?) WHERE kind = ? AND key = ?",
                    [(expires, kind, key) for kind, key, expires in batch],
                )
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        if inserted < len(batch):
            self._counts = dict(self._db.execute("SELECT kind, COUNT(*) FROM seen GROUP BY kind"))
        else:
            for kind, n in Counter(kind for kind, _, _ in batch).items():
                self._counts[kind] = self._counts.get(kind, 0) + n

    def _purge(self) -> None:
        """Delete expired rows, bounded per transaction (again at once while a backlog is left)."""
        now, backlog = self._clock(), False
        for kind in list(self._counts):
            backlog |= self._delete_first(kind, "AND expires <= ?", (now,), DELETE_BATCH) == DELETE_BATCH
        self._next_purge = now if backlog else now + self._purge_interval

    def _cap(self) -> None:
        """Delete the oldest rows of a kind beyond its cache's size (a cache that forgets its oldest keys)."""
        for kind, cap in list(self._caps.items()):
            excess = self._counts.get(kind, 0) - cap
            if excess > 0:
                self._delete_first(kind, "", (), excess)

    def _delete_first(self, kind: str, condition: str, params: tuple, limit: int) -> int:
        gone = self._db.execute(
            f"DELETE FROM seen WHERE kind = ? AND key IN (SELECT key FROM seen WHERE kind = ? "
            f"{condition} ORDER BY expires LIMIT ?)",
            (kind, kind, *params, limit),
        ).rowcount
        self._counts[kind] -= gone
        return gone

    def _committed_batch(self, batch: list) -> None:
        with self._cond:
            del self._queue[: len(batch)]
            self._committed += len(batch)
            if self._error is not None:
                log.info("replay database: writing again")
            self._error = None
        if self._on_commit is not None and batch:
            self._on_commit(batch)
        self._fire(after_purge=False)

    def _fire(self, *, after_purge: bool) -> None:
        with self._cond:
            ready = [cb for target, late, cb in self._waiters if target <= self._committed and late == after_purge]
            self._waiters = [w for w in self._waiters if not (w[0] <= self._committed and w[1] == after_purge)]
        for callback in ready:
            callback(None)

    def _failed(self, error: Exception) -> None:
        with self._cond:
            first = self._error is None
            self._error = error
            waiters, self._waiters = self._waiters, []
        refusal = ReplayStoreError(f"replay database: {type(error).__name__}: {error}")
        if first:
            log.error(
                "replay database {path}: {error}; new keys refused until a write succeeds",
                path=str(self.path),
                error=f"{type(error).__name__}: {error}",
            )
        for _, _, callback in waiters:
            callback(refusal)


class WriteBehindStore(MemoryStore):
    """A ReplayStore answered from memory (the authority), each new key handed to the writer.

    Deletes stay in memory: the writer expires and caps the rows itself (its own schedule, same rules).
    """

    def __init__(self, writer: Writer, kind: str, max_entries: int):
        super().__init__()
        self.writer, self._kind = writer, kind
        for key, expires in writer.load(kind, max_entries, max_entries):
            super().put(key, expires)

    def put(self, key: str, expires: float) -> None:
        self.writer.put(self._kind, key, expires)  # raises (and the key is not taken) if the disk refuses
        super().put(key, expires)


_writers: dict[str, Writer] = {}
_writers_lock = threading.Lock()


def writer(path: str | Path) -> Writer:
    """The process's one writer for `path` (the ticket authenticator and the bridge share it), flushed at exit."""
    key = str(Path(path).resolve())
    with _writers_lock:
        if key not in _writers or not _writers[key].alive:
            _writers[key] = Writer(path)
            atexit.register(_writers[key].close)
        return _writers[key]


def open_store(path: str | Path, kind: str, max_entries: int) -> WriteBehindStore:
    """`kind` of the replay database at `path`, loaded into memory, written through the shared writer."""
    return WriteBehindStore(writer(path), kind, max_entries)


def durable(w: Writer):
    """A Deferred (on the reactor) that fires once every key put so far is committed, or fails with the error."""
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    d = Deferred()
    w.when_durable(lambda error: reactor.callFromThread(d.callback if error is None else d.errback, error or None))
    return d


def stop_at_shutdown() -> None:
    """Have the reactor flush and stop every writer before it shuts down (once per process)."""
    global _stopping_at_shutdown
    if not _stopping_at_shutdown:
        from twisted.internet import reactor

        reactor.addSystemEventTrigger("before", "shutdown", close_all)
        _stopping_at_shutdown = True


_stopping_at_shutdown = False


def close_all(timeout: float = CLOSE_TIMEOUT) -> None:
    """Flush and stop every writer (the router worker's reactor calls it before shutdown)."""
    with _writers_lock:
        writers = list(_writers.values())
    for w in writers:
        if not w.close(timeout):
            log.warn("replay database {path}: not every key was written before shutdown", path=str(w.path))

"""The replay database's writer thread: batches by size or delay, commits at once for a waiter, flushes on
close, expires and caps rows itself. Synchronised on events with timeouts (on_commit, flush), never sleeps."""

import queue
import sqlite3
import threading

from switchboard.bridge.replay import NonceCache
from switchboard.router.services.replay_store import WriteBehindStore, Writer

WAIT = 10.0  # seconds an event may take before the test fails (a commit takes milliseconds)
FOREVER = 3600.0  # a batch delay no test waits out


class Clock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def rows(path, kind=None):
    db = sqlite3.connect(path)
    try:
        sql, params = ("SELECT key FROM seen", ()) if kind is None else ("SELECT key FROM seen WHERE kind = ?", (kind,))
        return sorted(key for (key,) in db.execute(sql + " ORDER BY key", params))
    finally:
        db.close()


def writer(tmp_path, **kwargs):
    commits = queue.Queue()
    kwargs.setdefault("clock", Clock())
    w = Writer(
        tmp_path / "replay.sqlite3",
        on_commit=lambda batch: commits.put((threading.current_thread().name, [key for _, key, _ in batch])),
        **kwargs,
    )
    return w, commits


def test_a_full_batch_is_written_without_waiting_for_the_delay(tmp_path):
    w, commits = writer(tmp_path, batch_size=3, delay=FOREVER)
    for key in "abc":
        w.put("k", key, 2e6)
    assert commits.get(timeout=WAIT) == ("switchboard-replay", ["a", "b", "c"]), "one commit, on the writer thread"
    assert rows(w.path) == ["a", "b", "c"] and w.close()


def test_a_lone_key_is_written_after_the_delay(tmp_path):
    w, commits = writer(tmp_path, delay=0.01)
    w.put("k", "a", 2e6)
    assert commits.get(timeout=WAIT)[1] == ["a"]
    assert rows(w.path) == ["a"] and w.close()


def test_a_waiter_gets_its_key_committed_at_once_and_is_told_on_the_writer_thread(tmp_path):
    w, commits = writer(tmp_path, delay=FOREVER)
    told = queue.Queue()
    w.when_durable(lambda error: told.put((error, threading.current_thread().name)))  # nothing pending
    assert told.get_nowait() == (None, threading.current_thread().name), "already durable: called at once"
    w.put("k", "a", 2e6)
    w.when_durable(lambda error: told.put((error, threading.current_thread().name, rows(w.path))))
    assert told.get(timeout=WAIT) == (None, "switchboard-replay", ["a"]), "told only once the key is on disk"
    assert w.close()


def test_close_flushes_what_is_queued_and_stops_a_daemon_thread(tmp_path):
    w, _ = writer(tmp_path, delay=FOREVER)
    assert w._thread.daemon, "the writer never keeps the worker alive on exit"
    for i in range(5):
        w.put("k", f"key{i}", 2e6)
    assert w.close() and not w._thread.is_alive()
    assert rows(w.path) == [f"key{i}" for i in range(5)]
    assert not w.alive and w.close(), "closing again is harmless"


def test_the_writer_deletes_expired_rows_on_its_own_clock(tmp_path):
    clock = Clock()
    w, _ = writer(tmp_path, clock=clock, delay=FOREVER, purge_interval=1.0)
    w.put("k", "soon", clock.now + 10)
    w.put("k", "later", clock.now + 100)
    assert w.flush(WAIT) and rows(w.path) == ["later", "soon"]
    clock.now += 10  # expiry at `now` counts as expired, as in the cache
    assert w.flush(WAIT) and rows(w.path) == ["later"]
    clock.now += 90
    assert w.flush(WAIT) and rows(w.path) == [] and w.close()


def test_each_kind_is_capped_at_its_cache_size_oldest_rows_first(tmp_path):
    clock = Clock()
    w, _ = writer(tmp_path, clock=clock, delay=FOREVER)
    assert w.load("ids", 3, max_entries=3) == []  # what a store does at start: load, and set the cap
    for i in range(5):
        w.put("ids", f"id{i}", clock.now + 100 + i)
        w.put("other", f"o{i}", clock.now + 100 + i)
    assert w.flush(WAIT)
    assert rows(w.path, "ids") == ["id2", "id3", "id4"] and len(rows(w.path, "other")) == 5, "only capped kinds"
    assert w.close()


def test_a_key_accepted_again_after_it_expired_gets_the_new_expiry_on_disk(tmp_path):
    clock = Clock()
    w, _ = writer(tmp_path, clock=clock, delay=FOREVER, purge_interval=FOREVER)
    cache = NonceCache(10, clock=clock, store=WriteBehindStore(w, "k", 100))
    assert cache.check_and_add("n") and w.flush(WAIT)
    clock.now += 10
    assert cache.check_and_add("n") and w.close()  # the old row was not purged yet: replaced, not duplicated
    again = Writer(w.path, clock=clock)
    assert not NonceCache(10, clock=clock, store=WriteBehindStore(again, "k", 100)).check_and_add("n")
    assert again.close()


def test_a_restart_loads_the_latest_keys_into_memory_and_refuses_them(tmp_path):
    clock = Clock()
    w, _ = writer(tmp_path, clock=clock, delay=FOREVER)
    cache = NonceCache(10, clock=clock, store=WriteBehindStore(w, "k", 100))
    for i in range(4):
        assert cache.check_and_add(f"n{i}")
        clock.now += 1
    assert w.close()  # a clean shutdown; then the "restarted hub":
    again = Writer(w.path, clock=clock)
    store = WriteBehindStore(again, "k", 2)  # bounded by the cache's size: the latest-expiring keys
    assert len(store) == 2 and store.expiry("n3") is not None and store.expiry("n0") is None
    restarted = NonceCache(10, clock=clock, store=store)
    assert not restarted.check_and_add("n3") and not restarted.check_and_add("n2")
    assert again.close()


def test_put_does_no_io_on_the_callers_thread(tmp_path, monkeypatch):
    w, commits = writer(tmp_path, batch_size=2, delay=FOREVER)
    calls = []
    monkeypatch.setattr(
        w, "_write", lambda batch, write=w._write: (calls.append(threading.current_thread().name), write(batch))
    )
    w.put("k", "a", 2e6)
    w.put("k", "b", 2e6)
    assert commits.get(timeout=WAIT)[1] == ["a", "b"]
    assert calls == ["switchboard-replay"] and w.close()

"""Replay memory: the store contract (memory and write-behind alike), expiry and limits with a fake clock,
and the SQLite file surviving a reopen as it survives a hub restart. The writer thread itself:
tests/unit/test_replay_writer.py."""

import sqlite3

import pytest
from switchboard.bridge import replay
from switchboard.bridge.replay import MemoryStore, NonceCache, ReplayCacheFull
from switchboard.router import settings as S
from switchboard.router.node.process import render_config
from switchboard.router.services import replay_store
from switchboard.router.services.dedupe import PublishedIds
from switchboard.router.services.replay_store import ReplayStoreError, WriteBehindStore, Writer


class Clock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request, tmp_path):
    """Stores of one kind each; the sqlite ones share one file, as the hub's do."""
    if request.param == "memory":
        yield lambda kind="k": MemoryStore()
        return
    writer = Writer(tmp_path / "replay.sqlite3", clock=Clock())
    yield lambda kind="k": WriteBehindStore(writer, kind, 1000)
    assert writer.close()


def test_store_contract(make_store):
    store = make_store()
    assert store.expiry("a") is None and len(store) == 0
    store.put("a", 10.0)
    store.put("b", 20.0)
    store.put("c", 30.0)
    assert store.expiry("a") == 10.0 and len(store) == 3
    store.put("a", 40.0)  # replaced, not added
    assert store.expiry("a") == 40.0 and len(store) == 3
    assert store.purge(25.0, None) == 1 and store.expiry("b") is None and len(store) == 2  # a now expires at 40
    assert store.expiry("a") == 40.0 and store.expiry("c") == 30.0
    assert store.purge(40.0, None) == 2 and len(store) == 0  # expiry at `now` counts as expired


def test_store_purges_in_expiry_order_and_bounded(make_store):
    store = make_store()
    for i in range(10):
        store.put(f"k{i}", float(100 - i))  # k9 expires first
    assert store.purge(95.0, 2) == 2 and store.expiry("k9") is None and store.expiry("k8") is None
    assert store.expiry("k7") == 93.0
    assert store.purge(95.0, None) == 3 and len(store) == 5
    assert store.purge(95.0, None) == 0
    assert store.evict_oldest(2) == 2 and store.expiry("k4") is None and store.expiry("k3") is None
    assert store.expiry("k2") == 98.0 and len(store) == 3


def test_kinds_do_not_mix(make_store):
    tickets, nonces = make_store("ticket"), make_store("nonce")
    tickets.put("x", 10.0)
    assert nonces.expiry("x") is None and len(nonces) == 0
    assert nonces.purge(100.0, None) == 0 and tickets.expiry("x") == 10.0


def test_nonce_cache_expires_and_refuses_when_full(make_store):
    clock = Clock()
    cache = NonceCache(10, clock=clock, max_entries=2, store=make_store())
    assert cache.check_and_add("a") and cache.check_and_add("b")
    assert not cache.check_and_add("a") and "a" in cache
    with pytest.raises(ReplayCacheFull):
        cache.check_and_add("c")
    assert not cache.check_and_add("b"), "a replay is a replay, even when the cache is full"
    clock.now += 10  # expiry is exclusive: at now + ttl the nonce is gone
    assert "a" not in cache and cache.check_and_add("c") and len(cache) == 1


def test_nonce_cache_purges_a_backlog_in_bounded_batches(make_store, monkeypatch):
    monkeypatch.setattr(replay, "PURGE_BATCH", 3)
    clock = Clock()
    store = make_store()
    cache = NonceCache(10, clock=clock, store=store)
    for i in range(8):
        cache.check_and_add(f"old{i}")
    clock.now += 20
    cache.check_and_add("new0")  # purges 3, leaves a backlog for the next call
    assert len(store) == 8 - 3 + 1
    cache.check_and_add("new1")
    cache.check_and_add("new2")  # 3 more, then the last 2
    assert len(store) == 3 and all(f"new{i}" in cache for i in range(3))
    cache.check_and_add("new3")  # no backlog: next purge only after PURGE_INTERVAL
    assert len(store) == 4


def test_published_ids_expire_and_forget_the_oldest_beyond_the_count(make_store):
    clock = Clock()
    ids = PublishedIds(ttl=10, max_ids=2, clock=clock, store=make_store())
    ids.add("a")
    clock.now += 1
    ids.add("b")
    clock.now += 1
    ids.add("c")
    assert "a" not in ids and "b" in ids and "c" in ids
    clock.now += 10
    assert "b" not in ids and "c" not in ids and len(ids) == 0


def test_the_sqlite_file_remembers_across_a_reopen(tmp_path):
    clock = Clock()
    path = tmp_path / "node" / "replay.sqlite3"
    writers = []

    def reopened(kind):  # a new writer (and connection) on the file, as a restarted hub opens; the last one closed
        if writers:
            assert writers[-1].close()
        writers.append(Writer(path, clock=clock))
        return WriteBehindStore(writers[-1], kind, 1000)

    assert NonceCache(10, clock=clock, store=reopened(replay_store.TICKETS)).check_and_add("jti-1")
    PublishedIds(clock=clock, store=reopened(replay_store.EVENT_IDS)).add("evt-1")
    again = NonceCache(10, clock=clock, store=reopened(replay_store.TICKETS))
    assert not again.check_and_add("jti-1") and len(again) == 1
    assert "evt-1" in PublishedIds(clock=clock, store=reopened(replay_store.EVENT_IDS))
    clock.now += 10
    assert NonceCache(10, clock=clock, store=reopened(replay_store.TICKETS)).check_and_add("jti-1"), (
        "an expired key is accepted again"
    )
    assert writers[-1].close()


def test_the_hub_shares_one_writer_in_wal_mode(tmp_path):
    path = tmp_path / "replay.sqlite3"
    writer = replay_store.writer(path)
    try:
        assert replay_store.writer(tmp_path / "." / "replay.sqlite3") is writer
        assert replay_store.open_store(path, replay_store.TICKETS, 10).writer is writer
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM seen").fetchone()[0] == 0
    finally:
        replay_store.close_all()
    assert not writer.alive and replay_store.writer(path) is not writer, "a closed writer is not handed out"
    replay_store.close_all()


class FailingWriter(Writer):
    """Every commit fails while `failing`, as on a full disk."""

    failing = True

    def _write(self, batch):
        if batch and self.failing:
            raise sqlite3.OperationalError("database or disk is full")
        super()._write(batch)


def test_a_failing_database_refuses_instead_of_forgetting(tmp_path, monkeypatch):
    monkeypatch.setattr(replay_store, "RETRY_DELAY", 3600.0)  # the retry comes when a waiter asks for it
    writer = FailingWriter(tmp_path / "replay.sqlite3", clock=Clock())
    cache = NonceCache(10, clock=Clock(), store=WriteBehindStore(writer, replay_store.BRIDGE_NONCES, 100))
    assert cache.check_and_add("n1")  # accepted in memory; its commit fails
    assert writer.flush(timeout=5) is False
    with pytest.raises(ReplayStoreError):
        cache.check_and_add("n2")
    assert "n2" not in cache and not cache.check_and_add("n1"), "refused, not taken; the accepted one still held"
    assert issubclass(ReplayStoreError, ReplayCacheFull)  # so callers refuse it (503, ticket_invalid)
    writer.failing = False
    assert writer.flush(timeout=5), "the kept batch is written when the disk takes it again"
    assert cache.check_and_add("n2") and writer.close()
    rows = sqlite3.connect(tmp_path / "replay.sqlite3").execute("SELECT key FROM seen ORDER BY key").fetchall()
    assert rows == [("n1",), ("n2",)]


def test_render_config_puts_the_replay_database_in_the_node_dir(tmp_path):
    settings = S.Settings(host="127.0.0.1", port=1234, backend_port=1235, realm="switchboard")
    config = render_config(S.load_config(), settings, data_dir=tmp_path)
    expected = str(tmp_path.resolve() / replay_store.DEFAULT_DATABASE)
    assert S.transport(config, "web")["paths"]["bridge"]["extra"]["database"] == expected
    auth = next(c for c in S.router_worker(config)["components"] if c["id"] == "auth")
    assert auth["extra"]["database"] == expected

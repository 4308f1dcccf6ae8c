"""The history store's caps: whole topics evicted, least recently written first, recent ones intact."""

import sqlite3

from switchboard.router.services.history_store import BYTES_LOW_WATER, HistoryStore


def fill(store, topics, start=0.0, text="x"):
    store.append_many([(t, None, start + i, [{"text": text}], {}) for i, t in enumerate(topics)])


def test_topic_cap_evicts_the_least_recently_written_topics_whole(open_store):
    store = open_store()
    fill(store, ["a", "b", "c"])
    store.append_many([("a", None, 10.0, ["again"], {})])  # a is now the most recent
    fill(store, ["d", "e"], start=11.0)
    evicted = store.evict(max_topics=3, max_bytes=1 << 40)
    assert evicted.for_topics == 2 and evicted.for_bytes == 0
    assert sorted(store.topics()) == ["a", "d", "e"] and store.topic_count() == 3
    assert [e.args for e in store.read("a")] == [[{"text": "x"}], ["again"]]
    assert store.count("b") == 0 and store.last_position("b") == 0
    fill(store, ["b"], start=20.0)  # an evicted topic starts again at position 1
    assert store.read("b")[0].position == 1
    assert store.evict(max_topics=3, max_bytes=1 << 40).for_topics == 1


def test_byte_cap_evicts_old_topics_down_to_the_low_water_mark_and_keeps_the_batch(open_store):
    store = open_store()
    big = "y" * 2000
    for n in range(200):
        store.append_many([(f"room{n}", None, float(n), [{"text": big}], {}) for _ in range(3)])
    before = store.used_bytes()
    cap = before // 4
    evicted = store.evict(max_topics=10_000, max_bytes=cap, keep={"room0"})
    assert evicted.for_bytes > 0 and store.used_bytes() <= cap * BYTES_LOW_WATER
    kept = set(store.topics())
    assert "room0" in kept and "room199" in kept and "room1" not in kept
    assert all(store.count(t) == 3 for t in kept)
    assert store.evict(max_topics=10_000, max_bytes=cap).topics == 0  # below the cap: nothing more


def test_positions_survive_reopening_even_when_retention_emptied_a_topic(open_store):
    store = open_store()
    fill(store, ["t", "t", "t"])
    store.trim("t", max_events=10, min_published=100.0)
    assert store.count("t") == 0
    store = open_store()
    assert store.append_many([("t", None, 200.0, [], {})]) == [4]


def test_a_store_written_before_the_topics_table_is_backfilled(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE events (topic TEXT NOT NULL, position INTEGER NOT NULL, publication INTEGER, "
        "published REAL NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (topic, position)) WITHOUT ROWID;"
        "INSERT INTO events VALUES ('a', 1, 7, 1.0, '[[1],{}]'), ('a', 2, 8, 2.0, '[[2],{}]');"
    )
    db.commit()
    db.close()
    store = HistoryStore(path)
    assert store.topics() == ["a"] and store.append_many([("a", 9, 3.0, [3], {})]) == [3]
    assert store.position_of("a", 7) == 1

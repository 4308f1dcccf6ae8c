"""The cluster's history store (router/services/history_redis.py, router/cluster/history_lua.py) on a
real redis-server: what only a shared store must hold. The contract both stores share runs on both
in test_history_store.py and test_history_caps.py."""

import threading
import uuid

import pytest
from switchboard.router.cluster import history_lua, wire
from switchboard.router.services.history_redis import RedisHistoryStore
from switchboard.router.services.history_store import StoreUnavailable
from switchboard.router.testing.redis_server import RedisServer


@pytest.fixture
def realm():
    return f"test-{uuid.uuid4().hex[:8]}"


def stored_bytes(server, realm) -> int:
    """The bytes of every stored event, counted from the events themselves."""
    import redis

    client = redis.Redis.from_url(server.url)
    prefix = wire.history_prefix(realm)
    total = 0
    for key in client.scan_iter(prefix + "e:*"):
        total += sum(len(m) for m in client.zrange(key, 0, -1))
    return total


def test_the_stored_event_format_round_trips_and_keeps_big_publication_ids():
    argv = history_lua.append_args("P", [("t", 2**53 - 1, 1.5, [{"text": "a:b"}], {"k": [1]})])
    assert argv == ["P", "0", "t", str(2**53 - 1), "1.5", '[[{"text":"a:b"}],{"k":[1]}]']
    member = "7:" + ":".join(argv[3:])
    assert history_lua.decode(member.encode()) == (7, 2**53 - 1, 1.5, [{"text": "a:b"}], {"k": [1]})
    assert history_lua.decode("3::2.0:[[],{}]") == (3, None, 2.0, [], {})


def test_a_hole_takes_positions_no_event_holds_before_the_events_of_its_write(redis_server, realm):
    """Events a node held while Redis was away and had to drop (history_held.py) leave their
    positions empty, so a reader sees that events are missing there."""
    store = RedisHistoryStore(redis_server.url, realm)
    assert store.append_many([("t", 1, 1.0, [1], {})]) == [1]
    assert store.append_many([("t", 5, 2.0, [5], {}), ("u", 6, 2.0, [6], {})], {"t": 3, "gone": 2}) == [5, 1]
    assert [e.position for e in store.read("t")] == [1, 5] and store.last_position("gone") == 2
    assert store.append_many([], {"t": 2}) == [] and store.last_position("t") == 7
    assert store.count() == 3


def test_a_batch_written_again_stores_each_event_once(redis_server, realm):
    """A write whose reply was lost (Redis stopped right after running it) is tried again once Redis
    is back: what is stored already, by publication id, is not stored twice."""
    store = RedisHistoryStore(redis_server.url, realm)
    batch = [("t", 10, 1.0, [1], {}), ("t", 11, 1.0, [2], {})]
    assert store.append_many(batch) == [1, 2]
    assert store.append_many([*batch, ("t", 12, 2.0, [3], {}), ("t", None, 2.0, [4], {})]) == [1, 2, 3, 4]
    assert [e.publication for e in store.read("t")] == [10, 11, 12, None] and store.count() == 4


def test_writers_on_many_nodes_get_one_contiguous_sequence_per_topic(redis_server, realm):
    """Eight writers (each its own connection, as each node has) commit batches to two topics at once."""
    stores = [RedisHistoryStore(redis_server.url, realm) for _ in range(8)]
    got: dict[int, list] = {}

    def write(n, store):
        got[n] = []
        for batch in range(25):
            events = [(f"t{i % 2}", n * 10_000 + batch * 10 + i, 1.0, [n, batch, i], {}) for i in range(10)]
            got[n] += zip([e[0] for e in events], store.append_many(events))

    threads = [threading.Thread(target=write, args=(n, s)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    reader = stores[0]
    for topic in ("t0", "t1"):
        events = reader.read(topic, limit=10_000)
        assert [e.position for e in events] == list(range(1, 1001)), "contiguous, from 1, no duplicate"
        assert sorted(p for n in got for t, p in got[n] if t == topic) == list(range(1, 1001))
        mine = [e.args[1:] for e in events if e.args[0] == 3]
        assert mine == sorted(mine), "each writer's events keep its order"
        assert all(reader.position_of(topic, e.publication) == e.position for e in events[::97])
    assert reader.count() == 2000 == max(s.events for s in stores), "the last writer's count is the cluster's"
    for store in stores:
        store.close()


def test_trim_forgets_the_publications_and_bytes_of_what_it_drops(redis_server, realm):
    store = RedisHistoryStore(redis_server.url, realm)
    store.append_many([("t", 100 + i, float(i), [i], {}) for i in range(1, 21)])
    assert store.trim("t", max_events=10, min_published=0, quick=True) == 10
    assert store.position_of("t", 105) is None and store.position_of("t", 115) == 15
    assert store.bytes == store.used_bytes() == stored_bytes(redis_server, realm)
    # the clock of one node was behind: an old event sits between recent ones
    store.append_many([("t", 200, 1.0, ["skewed"], {}), ("t", 201, 50.0, ["late"], {})])
    assert store.trim("t", max_events=100, min_published=13.5, quick=True) == 3  # 11..13 from the front
    assert [e.position for e in store.read("t")][:2] == [14, 15]
    assert store.trim("t", max_events=100, min_published=13.5) == 1  # the full pass finds the skewed one
    assert 21 not in [e.position for e in store.read("t")] and store.position_of("t", 200) is None
    assert store.count() == store.count("t") == 8
    assert store.bytes == stored_bytes(redis_server, realm)


def test_eviction_and_drop_keep_the_counters_true(redis_server, realm):
    store = RedisHistoryStore(redis_server.url, realm)
    for n in range(30):
        store.append_many([(f"room{n}", None, float(n), [{"text": "z" * 100}], {}) for _ in range(4)])
    store.drop(["room0", "unknown"])
    evicted = store.evict(max_topics=20, max_bytes=stored_bytes(redis_server, realm) // 2, keep={"room10"})
    assert evicted.for_topics == 9 and evicted.for_bytes == 7  # down to 45% of 29 topics' bytes: 13 topics
    kept = store.topics()
    assert "room10" in kept and "room29" in kept and "room9" not in kept and "room11" not in kept
    assert store.bytes == store.used_bytes() == stored_bytes(redis_server, realm)
    assert store.events == store.count() == 4 * store.topic_count()
    assert store.append_many([("room2", None, 99.0, [], {})]) == [1], "an evicted topic starts again"


def test_one_node_claims_the_periodic_pass(redis_server, realm):
    a, b = RedisHistoryStore(redis_server.url, realm), RedisHistoryStore(redis_server.url, realm)
    assert [a.claim_pass(60), b.claim_pass(60), a.claim_pass(60)] == [True, False, False]


def test_the_scripts_are_loaded_again_after_a_redis_restart(tmp_path, realm):
    server = RedisServer(tmp_path / "redis", durable=True)
    server.start()
    try:
        store = RedisHistoryStore(server.url, realm)
        assert store.append_many([("t", 1, 1.0, [], {})]) == [1]
        server.stop()
        with pytest.raises(StoreUnavailable):
            store.append_many([("t", 2, 2.0, [], {})])
        with pytest.raises(StoreUnavailable):
            store.read("t")
        server.start()
        assert store.append_many([("t", 3, 3.0, [], {})]) == [2], "the numbering went on from what Redis kept"
        assert [e.publication for e in store.read("t")] == [1, 3]
    finally:
        server.stop()


def test_a_store_opens_without_redis():
    store = RedisHistoryStore("redis://127.0.0.1:1/0", "x")
    assert store.events == 0
    with pytest.raises(StoreUnavailable):
        store.last_position("t")


def test_a_batch_is_one_round_trip(redis_server, realm):
    import redis

    def calls(name):
        return redis.Redis.from_url(redis_server.url).info("commandstats").get(f"cmdstat_{name}", {}).get("calls", 0)

    store = RedisHistoryStore(redis_server.url, realm)
    store.append_many([("warm", None, 1.0, [], {})])  # the script is loaded
    before = calls("evalsha"), calls("zadd")
    store.append_many([(f"t{i % 7}", i, 2.0, [i], {}) for i in range(500)])
    assert calls("evalsha") - before[0] == 1, "one script call for 500 events"
    assert calls("zadd") - before[1] == 1000, "inside it, each event and its topic's activity"

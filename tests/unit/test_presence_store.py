"""The cluster's presence roster: the pure parts, and the Lua scripts against a real redis-server,
checked to mean what the in-memory Roster means (components/roster.py)."""

import random

import pytest
import redis
from switchboard.components import presence_store as store
from switchboard.components.presence_redis import SharedRoster
from switchboard.components.roster import Roster
from switchboard.router.testing.redis_server import RedisServer


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url)
    c.flushdb()
    yield c
    c.close()


def roster(client, node="node-a", **kwargs):
    return SharedRoster(client, "realm1", node, **kwargs)


# --- pure ---------------------------------------------------------------------------------------
def test_a_node_keeps_its_name_across_starts_and_two_directories_are_two_nodes():
    assert store.node_name("host", "/srv/a") == store.node_name("host", "/srv/a")
    assert store.node_name("host", "/srv/a") != store.node_name("host", "/srv/b")
    assert store.node_name("one", "/srv/a") != store.node_name("two", "/srv/a")
    assert store.this_node("/srv/a/config.json", None) == store.this_node("/srv/a/config.json", "rs://x")


def test_records_are_canonical_so_a_script_compares_strings():
    a = store.encode_record({"nick": "ann", "id": "user:7", "authid": "7"})
    b = store.encode_record({"id": "user:7", "authid": "7", "nick": "ann"})
    assert a == b and store.decode_record(a.encode()) == {"id": "user:7", "nick": "ann", "authid": "7"}
    flat = [b"lobby", a.encode(), "other", a]
    assert store.leaves(flat) == [("lobby", store.decode_record(a)), ("other", store.decode_record(a))]


def test_a_node_reaps_only_after_its_own_heartbeat_held_a_whole_ttl():
    assert not store.may_reap(100.0, None)
    assert not store.may_reap(100.0, 100.0 - store.HEARTBEAT_TTL + 0.1)
    assert store.may_reap(100.0, 100.0 - store.HEARTBEAT_TTL)
    assert store.DEAD_NODE_NOTICED == store.HEARTBEAT_TTL + store.HEARTBEAT_INTERVAL


# --- the scripts --------------------------------------------------------------------------------
def test_join_tells_a_new_or_changed_member_and_answers_the_room(client):
    r = roster(client)
    record, changed, members = r.join("lobby", 1, "session:1", "ada", None)
    assert changed and members == [record] == [{"id": "session:1", "nick": "ada", "authid": None}]
    assert r.join("lobby", 1, "session:1", "ada", None)[1] is False, "the same again: no event"
    assert r.join("lobby", 1, "session:1", "Ada", None)[1] is True, "a new nick: an event"
    r.join("lobby", 2, "session:2", "bob", None)
    assert [m["nick"] for m in r.members("lobby")] == ["Ada", "bob"]
    assert r.members("nowhere") == []


def test_several_sessions_of_one_member_count_once_and_it_leaves_with_the_last(client):
    a, b = roster(client, "node-a"), roster(client, "node-b")  # two tabs on two nodes
    assert a.join("p", 11, "user:7", "ann", "7")[1] is True
    assert b.join("p", 22, "user:7", "ann", "7")[1] is False
    assert len(a.members("p")) == 1
    assert a.leave("p", 11) == (True, None), "one tab gone: still present"
    assert b.leave("p", 22) == (True, {"id": "user:7", "nick": "ann", "authid": "7"})
    assert a.leave("p", 22) == (False, None) and a.members("p") == []
    assert client.keys("*") == [a.prefix.encode() + b"nodes"], "nothing left behind but the nodes known"


def test_leave_all_answers_each_member_that_left_in_room_order(client):
    r = roster(client)
    for room in ("zeta", "alpha", "mid"):
        r.join(room, 5, "session:5", "eve", None)
    r.join("mid", 6, "client:shared-browser", "eve", None)
    r.join("mid", 5, "client:shared-browser", "eve", None)  # session 5 is now this browser in "mid"
    assert [room for room, _ in r.leave_all(5)] == ["alpha", "zeta"], "mid: the browser's other tab stays"
    assert r.sessions() == {6}
    assert r.leave_all(5) == []


def test_the_per_session_room_cap_holds(client):
    r = roster(client, max_rooms_per_session=3)
    for i in range(3):
        r.join(f"r{i}", 9, "session:9", "x", None)
    with pytest.raises(OverflowError):
        r.join("r3", 9, "session:9", "x", None)
    assert r.join("r0", 9, "session:9", "y", None)[1], "a room it is in already: fine"
    r.leave("r0", 9)
    assert r.join("r3", 9, "session:9", "x", None)[1]


def test_a_dead_nodes_sessions_are_reaped_once_by_one_survivor(client):
    a, b, c = roster(client, "a"), roster(client, "b"), roster(client, "c")
    for node in (a, b, c):
        assert node.beat() is False, "first beat: there was no heartbeat"
        assert node.beat() is True
    a.join("lobby", 1, "session:1", "ann", None)
    a.join("lobby", 2, "user:9", "bo", "9")
    b.join("lobby", 3, "user:9", "bo", "9")  # bo is also on b: stays
    a.join("kitchen", 1, "session:1", "ann", None)
    assert b.reap() == ([], []), "a still beats"
    client.delete(a.prefix + "alive:a")  # what its TTL does to a node killed with -9
    dead, leaves = b.reap()
    assert dead == ["a"]
    assert sorted((room, m["id"]) for room, m in leaves) == [("kitchen", "session:1"), ("lobby", "session:1")]
    assert c.reap() == ([], []), "the other survivor finds nothing left to publish"
    assert [m["id"] for m in c.members("lobby")] == ["user:9"]
    assert a.sessions() == set()


def test_the_heartbeat_expires_after_its_ttl(client):
    r = roster(client)
    assert r.beat(ttl=0.05) is False
    assert 0 < client.pttl(r.prefix + "alive:node-a") <= 50


def test_the_scripts_mean_what_the_in_memory_roster_means(client):
    """The same random joins, leaves and session ends on both: the same answers, the same rooms."""
    rng = random.Random(17)
    memory, shared = Roster(max_rooms_per_session=4), roster(client, max_rooms_per_session=4)
    rooms, sessions = ["a", "b", "c", "d", "e"], list(range(1, 9))
    members = ["user:1", "user:2", "client:tabs-0001", "session:{s}"]
    for _ in range(600):
        op, room, session = rng.random(), rng.choice(rooms), rng.choice(sessions)
        if op < 0.5:
            member, nick = rng.choice(members).format(s=session), rng.choice(["ann", "bo"])
            authid = member[5:] if member.startswith("user:") else None
            try:
                expected = memory.join(room, session, member, nick, authid)
            except OverflowError:
                with pytest.raises(OverflowError):
                    shared.join(room, session, member, nick, authid)
                continue
            record, changed, listed = shared.join(room, session, member, nick, authid)
            assert (record, changed) == expected and listed == memory.members(room)
        elif op < 0.85:
            present = memory.present(room, session)
            assert shared.leave(room, session) == (present, memory.leave(room, session) if present else None)
        else:
            assert shared.leave_all(session) == memory.leave_all(session)
        assert shared.members(room) == memory.members(room)


def test_a_large_dead_node_is_reaped_in_batches_each_session_once(client):
    a, b = roster(client, "a"), roster(client, "b")
    a.beat(), b.beat()
    for s in range(1, 26):
        a.join("big", s, f"session:{s}", f"n{s}", None)
        if s % 2:
            a.join("odd", s, f"session:{s}", f"n{s}", None)
    client.delete(a.prefix + "alive:a")
    dead, leaves = b.reap(batch=4)
    assert dead == ["a"] and len(leaves) == 25 + 13
    assert len(set((room, m["id"]) for room, m in leaves)) == len(leaves)
    assert b.members("big") == b.members("odd") == [] and b.reap() == ([], [])

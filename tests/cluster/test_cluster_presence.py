"""Presence across the nodes of a cluster: one roster in Redis, each event once on every node, the
sessions of a node killed with -9 leaving every room within presence_store.DEAD_NODE_NOTICED."""

import time

import pytest
import redis
from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import tickets, uris
from switchboard.components import presence_store as store
from switchboard.router import settings as S
from switchboard.router.client import Client
from switchboard.router.cluster import wire
from switchboard.router.testing.hub import Hub
from switchboard.router.testing.redis_server import RedisServer

#: a loaded machine (2 cores, 3 nodes and the tests) delays a heartbeat or a reap by a few seconds
SLACK = 10


def watch(hubs, room):
    """A subscriber to the room's events on each hub: [(client, subscription)]."""
    watchers = []
    for hub in hubs:
        client = hub.client()
        watchers.append((client, client.subscribe(f"presence.room.{room}")))
    return watchers


def marked_end(watchers, publisher, room):
    """Publish a marker on the room's topic; the events each watcher got before it, without it."""
    publisher.publish(f"presence.room.{room}", {"event": "marker"})
    seen = []
    for _, sub in watchers:
        got = []
        while (event := sub.get(timeout=10)).args[0]["event"] != "marker":
            got.append((event.args[0]["event"], event.args[0]["member"]["id"]))
        seen.append(got)
    return seen


def close_all(watchers):
    for client, _ in watchers:
        client.close()


def test_a_join_on_one_node_is_listed_on_every_node_and_its_event_arrives_once(cluster):
    a, b, c = cluster.hubs
    watchers = watch(cluster.hubs, "cl1")
    try:
        with a.client() as ada, a.backend_client() as backend:
            assert [m["nick"] for m in ada.call("presence.join", "cl1", "ada")] == ["ada"]
            for hub in (b, c):
                with hub.client() as other:
                    assert other.call("presence.list", "cl1") == [
                        {"id": f"session:{ada.session_id}", "nick": "ada", "authid": None}
                    ]
            assert ada.call("presence.leave", "cl1") is True
            ada.call("presence.join", "cl1", "ada")
            ada.call("presence.join", "cl1", "ada")  # the same again: no event
            who = f"session:{ada.session_id}"
            expected = [("join", who), ("leave", who), ("join", who)]
            assert marked_end(watchers, backend, "cl1") == [expected] * 3
    finally:
        close_all(watchers)


def test_two_tabs_of_one_user_on_two_nodes_count_once(cluster):
    a, b, c = cluster.hubs

    def login(hub):
        return Client(hub.url, hub.realm, ticket=tickets.mint(hub.ticket_secret, "4242"))

    watchers = watch((a, c), "cl2")
    try:
        with login(a) as tab1, login(b) as tab2, a.backend_client() as backend:  # the join's node: in order
            tab1.call("presence.join", "cl2", "ann")
            assert tab2.call("presence.join", "cl2", "ann") == [{"id": "user:4242", "nick": "ann", "authid": "4242"}]
            assert tab1.call("presence.leave", "cl2") is True
            with c.client() as other:
                assert [m["id"] for m in other.call("presence.list", "cl2")] == ["user:4242"], "one tab left"
            assert marked_end(watchers, backend, "cl2") == [[("join", "user:4242")]] * 2
            tab2.close()  # the last tab: its node sees the session end
            for _, sub in watchers:
                left = sub.get(timeout=10).args[0]
                assert (left["event"], left["member"]["id"]) == ("leave", "user:4242")
            assert marked_end(watchers, backend, "cl2") == [[]] * 2, "one leave"
            with b.client() as other:
                assert other.call("presence.list", "cl2") == []
    finally:
        close_all(watchers)


def test_a_session_closed_on_one_node_leaves_on_every_node(cluster):
    a, b, c = cluster.hubs
    watchers = watch(cluster.hubs, "cl3")
    try:
        gone = b.client()
        gone.call("presence.join", "cl3", "bo")
        who = f"session:{gone.session_id}"
        assert [sub.get(timeout=10).args[0]["member"]["id"] for _, sub in watchers] == [who] * 3
        gone.close()
        for _, sub in watchers:
            assert sub.get(timeout=10).args[0] == {
                "event": "leave",
                "room": "cl3",
                "member": {"id": who, "nick": "bo", "authid": None},
            }
        for hub in cluster.hubs:
            with hub.client() as other:
                assert other.call("presence.list", "cl3") == []
    finally:
        close_all(watchers)


def test_the_sessions_of_a_node_killed_with_minus_9_leave_every_room_once(cluster, tmp_path):
    a, b, _ = cluster.hubs
    env = {S.ENV_REDIS_URL: cluster.redis.url}
    doomed = Hub(tmp_path / "doomed", env=env, secrets_file=cluster.secrets_file)
    doomed.start()
    watchers = watch((a, b), "cl4")
    try:
        with a.client() as stays, a.backend_client() as backend:
            stays.call("presence.join", "cl4", "stays")
            ghosts = [doomed.client() for _ in range(3)]
            for i, ghost in enumerate(ghosts):
                ghost.call("presence.join", "cl4", f"ghost{i}")
                ghost.call("presence.join", "cl4-other", f"ghost{i}")
            ghost_ids = sorted(f"session:{g.session_id}" for g in ghosts)
            assert len(stays.call("presence.list", "cl4")) == 4
            joined = [("join", f"session:{stays.session_id}")] + [("join", g) for g in ghost_ids]
            for _, sub in watchers:
                got = [sub.get(timeout=10).args[0] for _ in joined]
                assert sorted((e["event"], e["member"]["id"]) for e in got) == sorted(joined)
            doomed.kill()
            deadline = time.monotonic() + store.DEAD_NODE_NOTICED + SLACK
            for _, sub in watchers:
                left = [sub.get(timeout=max(0.1, deadline - time.monotonic())).args[0] for _ in ghosts]
                assert {e["event"] for e in left} == {"leave"}
                assert sorted(e["member"]["id"] for e in left) == ghost_ids
            assert [m["nick"] for m in stays.call("presence.list", "cl4")] == ["stays"]
            assert stays.call("presence.list", "cl4-other") == []
            # REAP forgot the dead node in the script that removed its sessions: no later reap can
            # publish its leaves again
            r = redis.Redis.from_url(cluster.redis.url)
            try:
                assert r.scard(wire.presence_prefix(a.realm) + "nodes") == 3, "the module's three nodes"
            finally:
                r.close()
            assert marked_end(watchers, backend, "cl4") == [[], []], "each leave once"
    finally:
        close_all(watchers)
        doomed.kill()


def test_a_restarted_node_removes_the_sessions_it_had_and_asks_only_its_own_to_sync(cluster, tmp_path):
    a = cluster.hubs[0]
    env = {S.ENV_REDIS_URL: cluster.redis.url}
    node = Hub(tmp_path / "restarted", env=env, secrets_file=cluster.secrets_file)
    node.start()
    watchers = watch((a,), "cl6")
    r = redis.Redis.from_url(cluster.redis.url)
    try:
        with a.client() as elsewhere, a.backend_client() as backend:
            elsewhere_sync = elsewhere.subscribe("presence.sync")
            old = [node.client() for _ in range(2)]
            for i, c in enumerate(old):
                c.call("presence.join", "cl6", f"old{i}")
            old_ids = sorted(f"session:{c.session_id}" for c in old)
            joins = [watchers[0][1].get(timeout=10).args[0] for _ in old]
            assert sorted((e["event"], e["member"]["id"]) for e in joins) == [("join", i) for i in old_ids]
            node.kill()
            # as if it came back within its heartbeat's TTL: the other nodes leave its sessions alone,
            # and the restarted component is the one to find them gone
            name = store.this_node(str(node.node.cbdir / "config.json"), None)
            r.set(wire.presence_prefix(a.realm) + "alive:" + name, "1", px=120_000)
            node.start()
            left = [watchers[0][1].get(timeout=30).args[0] for _ in old]
            assert sorted((e["event"], e["member"]["id"]) for e in left) == [("leave", i) for i in old_ids]
            with node.backend_client() as there:
                there.publish("presence.sync", {"marker": True})  # after the restarted node's own sync
            assert elsewhere_sync.get(timeout=10).args == ({"marker": True},), "no sync for the other nodes"
            assert marked_end(watchers, backend, "cl6") == [[]]
    finally:
        close_all(watchers)
        r.close()
        node.kill()


@pytest.fixture
def lone_node(tmp_path):
    """One cluster node on a Redis of its own, which the test may stop."""
    server = RedisServer(tmp_path / "redis", durable=True)
    server.start()
    hub = Hub(tmp_path / "node", env={S.ENV_REDIS_URL: server.url})
    try:
        hub.start()
        yield hub, server
    finally:
        hub.stop()
        server.stop()


def test_while_redis_is_down_presence_answers_unavailable_and_recovers(lone_node):
    hub, server = lone_node
    with hub.client() as c, hub.client() as watcher:
        events = watcher.subscribe("presence.room.cl5")
        c.call("presence.join", "cl5", "ann")
        assert events.get(timeout=10).args[0]["event"] == "join"
        ends_meanwhile = hub.client()
        ends_meanwhile.call("presence.join", "cl5", "bo")
        assert events.get(timeout=10).args[0]["member"]["nick"] == "bo"
        server.stop()
        with pytest.raises(ApplicationError) as info:
            c.call("presence.join", "cl5", "ann")
        assert info.value.error == uris.UNAVAILABLE
        with pytest.raises(ApplicationError) as info:
            c.call("presence.list", "cl5")
        assert info.value.error == uris.UNAVAILABLE
        ends_meanwhile.close()  # its end is kept, and applied once Redis is back
        server.start()
        left = events.get(timeout=20).args[0]
        assert left["event"] == "leave" and left["member"]["nick"] == "bo"
        assert [m["nick"] for m in c.call("presence.join", "cl5", "ann")] == ["ann"]
    assert hub.log_text().count("the cluster's Redis does not answer") == 1, "one line for the outage"

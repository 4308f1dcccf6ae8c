"""One history per topic across the nodes of a cluster, whichever node published: one contiguous,
ordered sequence of positions, each event once, recovery by publication id on any node, the bridge,
retention, kill -9 of a publishing node, and Redis gone for a while."""

from __future__ import annotations

import threading
import time

import pytest
from autobahn.wamp.exception import ApplicationError
from switchboard.bridge.client import HubClient
from switchboard.router import settings as S
from switchboard.router.testing.cluster import Cluster
from switchboard.router.testing.hub import Hub, wait_until


def texts(result) -> list[str]:
    return [e["args"][0]["text"] for e in result["events"]]


def everything(client, topic) -> dict:
    return client.call("history.get", topic, since=0, limit=1000)


def assert_one_sequence(result) -> None:
    positions = [e["position"] for e in result["events"]]
    assert positions == list(range(1, len(positions) + 1)), "contiguous positions from 1"
    assert result["last"] == len(positions) and result["gap"] is False
    assert len({e["publication"] for e in result["events"]}) == len(positions), "each event once"


def run_all(jobs) -> None:
    errors: list[BaseException] = []

    def run(job):
        try:
            job()
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors


def test_posts_on_two_nodes_are_one_history_on_a_third(cluster):
    a, b, c = cluster.hubs
    with a.client() as on_a, b.client() as on_b, c.client() as on_c:
        for i in range(10):
            (on_a if i % 2 == 0 else on_b).call("chat.post", "cl-one", f"m{i}", "ann")
        result = everything(on_c, "chat.room.cl-one")
    assert texts(result) == [f"m{i}" for i in range(10)], "in the order they were acknowledged"
    assert_one_sequence(result)


def test_an_acknowledged_publish_is_in_history_on_every_node_at_once(cluster):
    a, b, c = cluster.hubs
    with a.backend_client() as pub, b.client() as on_b, c.client() as on_c:
        for i in range(20):
            pub.publish("chat.room.cl-ack", {"text": f"a{i}"})
            reader = on_b if i % 2 else on_c
            assert texts(reader.call("history.get", "chat.room.cl-ack", since=i)) == [f"a{i}"]


def test_concurrent_posts_from_every_node_give_contiguous_positions_without_loss(cluster):
    topic, per_client = "chat.room.cl-many", 60
    clients = [hub.client() for hub in cluster.hubs for _ in range(2)]
    try:
        live = clients[0].subscribe(topic)

        def poster(n, client):
            return lambda: [client.call("chat.post", "cl-many", f"c{n}-{i}", "ann") for i in range(per_client)]

        run_all([poster(n, client) for n, client in enumerate(clients)])
        result = everything(clients[-1], topic)
        seen = [live.get(timeout=10).publication for _ in range(len(clients) * per_client)]
    finally:
        for client in clients:
            client.close()
    assert_one_sequence(result)
    sent = sorted(f"c{n}-{i}" for n in range(len(clients)) for i in range(per_client))
    assert sorted(texts(result)) == sent, "no loss, no duplicate"
    for n in range(len(clients)):
        mine = [t for t in texts(result) if t.startswith(f"c{n}-")]
        assert mine == [f"c{n}-{i}" for i in range(per_client)], "each poster's events in its order"
    assert sorted(seen) == sorted(e["publication"] for e in result["events"]), "history ids are the live ids"


def test_recovery_after_a_publication_seen_on_one_node_asked_on_another(cluster):
    a, b, c = cluster.hubs
    topic = "chat.room.cl-recover"
    with a.backend_client() as pub, b.client() as on_b:
        live = on_b.subscribe(topic)
        for i in range(3):
            pub.publish(topic, {"text": f"seen{i}"})
        last_seen = [live.get(timeout=5) for _ in range(3)][-1]
        on_b.close()  # the page goes away; meanwhile events are posted on two nodes
        with b.client() as pub_b:
            for i in range(4):
                (pub if i % 2 else pub_b).call("chat.post", "cl-recover", f"missed{i}", "ann")
    with c.client() as on_c:  # it comes back through another node
        result = on_c.call("history.get", topic, after_publication=last_seen.publication)
    assert texts(result) == [f"missed{i}" for i in range(4)] and result["gap"] is False
    assert [e["position"] for e in result["events"]] == [4, 5, 6, 7]


def test_the_bridge_on_one_node_is_in_history_on_another(cluster):
    a, b, c = cluster.hubs
    with HubClient(a.bridge_url, key=a.bridge_key, secret=a.bridge_secret) as bridge:
        bridge.publish("chat.room.cl-bridge", {"text": "from django"})
        bridge.publish_many([{"topic": "chat.room.cl-bridge", "args": [{"text": f"b{i}"}]} for i in range(3)])
    with c.client() as on_c:
        result = everything(on_c, "chat.room.cl-bridge")
    assert texts(result) == ["from django", "b0", "b1", "b2"]
    assert_one_sequence(result)


def test_retention_by_count_holds_across_nodes(cluster):
    topic = "user.cl7.notifications"  # user.* keeps 100 events (config.json)
    clients = [hub.backend_client() for hub in cluster.hubs]
    try:
        for i in range(130):
            clients[i % 3].publish(topic, {"text": f"n{i}"})
        result = clients[1].call("history.get", topic, since=0, limit=1000)
    finally:
        for client in clients:
            client.close()
    assert texts(result) == [f"n{i}" for i in range(30, 130)]
    assert [e["position"] for e in result["events"]] == list(range(31, 131))
    assert result["last"] == 130 and result["gap"] is True


def test_a_node_killed_right_after_its_acknowledgements_loses_none_of_them(cluster, tmp_path):
    """A fourth node on the cluster's Redis takes concurrent publishes and is killed (-9) the moment
    the last acknowledgement is back: the other nodes' history has every acknowledged event."""
    topic = "chat.room.cl-kill"
    env = {S.ENV_REDIS_URL: cluster.redis.url}
    doomed = Hub(tmp_path / "doomed", env=env, secrets_file=cluster.secrets_file, with_components=False)
    doomed.start()
    acked: list[list[str]] = [[] for _ in range(4)]
    publishers = []
    try:
        publishers += [doomed.backend_client() for _ in range(4)]

        def publish_all(n):
            def run():
                for i in range(40):
                    publishers[n].publish(topic, {"text": f"k{n}-{i}"})
                    acked[n].append(f"k{n}-{i}")

            return run

        run_all([publish_all(n) for n in range(4)])
        doomed.kill()
    finally:
        doomed.stop()
        for client in publishers:
            client.close()
    with cluster.hubs[0].client() as on_a:
        result = everything(on_a, topic)
    assert sorted(texts(result)) == sorted(t for mine in acked for t in mine)
    assert_one_sequence(result)


def test_redis_gone_for_a_while(tmp_path):
    """While Redis is down: publishers are acknowledged at once, live delivery on the node goes on,
    history.get answers unavailable, one line each way in the log; what was published meanwhile is
    held and written once Redis is back, in order, so history has every event, and a recovery across
    the outage gets them with gap false. Past the hold's bound (3 here) the oldest held are dropped:
    their positions stay empty and a recovery across them answers gap true."""
    topic = "chat.room.cl-outage"
    env = {"SWITCHBOARD_CLUSTER_HISTORY_HELD_EVENTS": "3"}
    with Cluster.started(tmp_path, nodes=1, env=env) as cluster:  # one node is enough, and the machine has 2 cores
        (a,) = cluster.hubs
        with a.backend_client() as pub, a.client() as watcher:
            live = watcher.subscribe(topic)
            for i in range(5):
                pub.publish(topic, {"text": f"before{i}"})
            last_before = [live.get(timeout=5) for _ in range(5)][-1].publication
            cluster.redis.stop()
            slowest = 0.0
            for i in range(3):
                started = time.monotonic()
                pub.publish(topic, {"text": f"during{i}"})
                slowest = max(slowest, time.monotonic() - started)
            assert slowest < 1.0, f"a publish waited {slowest:.2f} s for a store that is gone"
            with pytest.raises(ApplicationError) as info:
                watcher.call("history.get", topic)
            assert info.value.error == "switchboard.error.unavailable"
            assert [live.get(timeout=5).args[0]["text"] for _ in range(3)] == [f"during{i}" for i in range(3)]
            cluster.redis.start()
            wait_until(
                lambda: "history: storing events again" in a.log_text(), timeout=30, what="history writing again"
            )
            pub.publish(topic, {"text": "after"})
            result = everything(watcher, topic)
            recovered = watcher.call("history.get", topic, after_publication=last_before)
            last_after = live.get(timeout=5).publication

            cluster.redis.kill()  # again, and more than the hold keeps
            for i in range(5):
                pub.publish(topic, {"text": f"lost{i}"})
            cluster.redis.start()
            wait_until(lambda: a.log_text().count("history: storing events again") == 2, timeout=30, what="again")
            beyond = watcher.call("history.get", topic, after_publication=last_after)
        log = a.log_text()
    assert texts(result) == [f"before{i}" for i in range(5)] + [f"during{i}" for i in range(3)] + ["after"]
    assert_one_sequence(result)
    assert texts(recovered) == [f"during{i}" for i in range(3)] + ["after"] and recovered["gap"] is False
    assert texts(beyond) == ["lost2", "lost3", "lost4"], "the newest held are kept"
    assert beyond["gap"] is True and [e["position"] for e in beyond["events"]] == [12, 13, 14]
    assert log.count("history: cannot store events") == 2, "one line an outage, not one per event"
    assert log.count("dropping the oldest") == 1
    assert "Traceback" not in log

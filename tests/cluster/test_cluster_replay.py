"""Replay memory across the nodes of a cluster (router/cluster/replay.py): a ticket signs in once, a
signed bridge request is accepted once and an event id is published once, whichever node each
reaches; with Redis gone they are refused, clearly, and the hub serves the rest."""

import json
import threading

import pytest
from switchboard.bridge import tickets
from switchboard.bridge.signing import sign_request
from switchboard.router import settings as S
from switchboard.router.client import Client, JoinError
from switchboard.router.testing.hub import Hub, wait_until
from switchboard.router.testing.redis_server import RedisServer

from tests.integration.bridge_http import request


def refused(hub, ticket) -> JoinError:
    with pytest.raises(JoinError) as info:
        Client(hub.url, hub.realm, ticket=ticket)
    return info.value


def test_a_ticket_used_on_one_node_is_refused_on_the_others(cluster):
    a, b, c = cluster.hubs
    ticket = tickets.mint(a.ticket_secret, "42")
    with Client(a.url, a.realm, ticket=ticket) as signed_in:
        assert (signed_in.details.authid, signed_in.details.authrole) == ("42", "user")
    for hub in (b, c, a):
        replay = refused(hub, ticket)
        assert replay.reason == tickets.REPLAYED and "fresh" in replay.message
    with Client(b.url, b.realm, ticket=tickets.mint(b.ticket_secret, "42")) as fresh:
        assert fresh.details.authid == "42", "a fresh ticket signs in on any node"


def test_a_ticket_tried_on_every_node_at_once_signs_in_once(cluster):
    ticket = tickets.mint(cluster.hubs[0].ticket_secret, "7")
    outcomes, barrier = [], threading.Barrier(len(cluster.hubs) * 2)

    def sign_in(hub):
        barrier.wait()
        try:
            Client(hub.url, hub.realm, ticket=ticket).close()
            outcomes.append("in")
        except JoinError as e:
            outcomes.append(e.reason)

    threads = [threading.Thread(target=sign_in, args=(hub,)) for hub in cluster.hubs * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["in"] + [tickets.REPLAYED] * 5


def test_a_signed_request_replayed_to_another_node_is_refused(cluster):
    a, b, c = cluster.hubs
    with c.client() as sub_client:
        sub = sub_client.subscribe("public.replayed")
        raw = json.dumps({"topic": "public.replayed", "args": ["once"]}).encode()
        headers = sign_request(a.bridge_key, a.bridge_secret, "POST", "/bridge/publish", raw)
        assert request(a, "publish", raw=raw, headers=headers, sign=False)[0] == 200
        for hub in (b, c, a):
            status, body = request(hub, "publish", raw=raw, headers=headers, sign=False)
            assert (status, body["error"], body["reason"]) == (401, "switchboard.error.unauthorized", "replayed")
        request(b, "publish", {"topic": "public.replayed", "args": ["next"]})
        assert [sub.get(timeout=5).args[0], sub.get(timeout=5).args[0]] == ["once", "next"]


def test_an_event_id_published_on_two_nodes_is_delivered_once(cluster):
    a, b, c = cluster.hubs
    with c.client() as sub_client:
        sub = sub_client.subscribe("public.idempotent")
        body = {"topic": "public.idempotent", "args": [1], "id": "evt-cluster-1"}
        assert request(a, "publish", body) == (200, {"id": "evt-cluster-1", "duplicate": False})
        assert request(b, "publish", body) == (200, {"id": "evt-cluster-1", "duplicate": True})
        assert request(c, "publish", body) == (200, {"id": "evt-cluster-1", "duplicate": True})
        request(b, "publish", {"topic": "public.idempotent", "args": ["end"]})
        assert [sub.get(timeout=5).args[0], sub.get(timeout=5).args[0]] == [1, "end"]


def test_the_same_id_sent_to_every_node_at_once_is_published_once(cluster):
    a, b, c = cluster.hubs
    with c.client() as sub_client:
        sub = sub_client.subscribe("public.race")
        body = {"topic": "public.race", "args": ["x"], "id": "evt-race"}
        answers, barrier = [], threading.Barrier(6)

        def publish(hub):
            barrier.wait()
            answers.append(request(hub, "publish", body))

        threads = [threading.Thread(target=publish, args=(hub,)) for hub in (a, b, c) * 2]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(answer[1]["duplicate"] for answer in answers) == [False] + [True] * 5
        assert {answer[0] for answer in answers} == {200}
        request(a, "publish", {"topic": "public.race", "args": ["end"]})
        assert [sub.get(timeout=5).args[0], sub.get(timeout=5).args[0]] == ["x", "end"]


def test_batches_with_overlapping_ids_on_two_nodes_deliver_each_once(cluster):
    a, b, c = cluster.hubs
    with c.client() as sub_client:
        sub = sub_client.subscribe("public.batches")

        def batch(hub, ids):
            status, body = request(
                hub, "batch", {"events": [{"topic": "public.batches", "args": [i], "id": f"bb-{i}"} for i in ids]}
            )
            assert status == 200, body
            return [r["duplicate"] for r in body["results"]]

        assert batch(a, range(0, 5)) == [False] * 5
        assert batch(b, range(3, 8)) == [True, True, False, False, False]
        got = [sub.get(timeout=5).args[0] for _ in range(8)]
    assert got == list(range(8))


@pytest.fixture
def lone_redis(tmp_path):
    """A node on a Redis of its own, so stopping it leaves the module's cluster alone."""
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        with Hub.started(tmp_path / "node", env={S.ENV_REDIS_URL: redis.url}) as hub:
            yield hub, redis
    finally:
        redis.stop()


def test_without_redis_tickets_and_bridge_requests_are_refused_and_the_rest_is_served(lone_redis):
    hub, redis = lone_redis
    with Client(hub.url, hub.realm, ticket=tickets.mint(hub.ticket_secret, "1")):
        pass
    assert request(hub, "publish", {"topic": "public.x", "args": [1], "id": "before"})[0] == 200
    redis.stop()

    for _ in range(3):
        error = refused(hub, tickets.mint(hub.ticket_secret, "1"))
        assert error.reason == tickets.INVALID and "Redis" in error.message and "unreachable" in error.message
        status, body = request(hub, "publish", {"topic": "public.x", "args": [1]})
        assert status == 503 and body["error"] == "switchboard.error.unavailable" and "Redis" in body["message"]
        assert request(hub, "call", {"procedure": "demo.add2", "args": [1, 2]})[0] == 503
    with hub.client() as anonymous:  # the hub serves everything that needs no replay check
        assert anonymous.call("demo.add2", 2, 3) == 5
    with hub.admin_client() as admin:
        assert admin.details.authrole == "admin", "the admin secret is no ticket: it still signs in"
    assert hub.log_text().count("replay memory in Redis unreachable") == 1, "one line, not one per request"

    redis.start()

    def accepted():
        try:
            Client(hub.url, hub.realm, ticket=tickets.mint(hub.ticket_secret, "1")).close()
        except JoinError:
            return False
        return True

    wait_until(accepted, timeout=15, what="ticket sign-in with Redis back")
    assert request(hub, "publish", {"topic": "public.x", "args": [1], "id": "after"}) == (
        200,
        {"id": "after", "duplicate": False},
    )
    assert request(hub, "call", {"procedure": "demo.add2", "args": [1, 2]}) == (200, {"args": [3], "kwargs": {}})
    wait_until(lambda: "replay memory in Redis reachable again" in hub.log_text(), what="the recovery's log line")

"""router/cluster/relay.py against a real Redis that goes away: what a node held for the others
while Redis was gone, and what it publishes just after, reaches the other nodes' listeners once
they listen again, each event once and in order (bench/cluster_outage.py measured them lost)."""

import concurrent.futures
import os
import queue
import shutil
import signal

import pytest
from autobahn.wamp.exception import ApplicationError
from switchboard.router.cluster import link, wire
from switchboard.router.cluster import relay as R
from switchboard.router.testing.cluster import Cluster
from switchboard.router.testing.hub import wait_until
from switchboard.router.testing.redis_server import RedisServer

from tests.cluster.scrape import metrics, sample


def started_relay(url: str, node: str, got: queue.Queue) -> R.Relay:
    relay = R.Relay(
        url, "realm", node, lambda events: [got.put(e.publication) for e in events],
        call_from_thread=lambda f, *args, **kwargs: f(*args, **kwargs), max_queued=1000,
    )  # fmt: skip
    relay.start()
    assert relay.wait_subscribed(10)
    return relay


def event(n: int) -> dict:
    return wire.RelayedEvent("t", n, [n]).as_item()


def received(got: queue.Queue, count: int) -> list[int]:
    return [got.get(timeout=15) for _ in range(count)]


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path / "redis", durable=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_events_held_during_an_outage_wait_for_a_listener_that_comes_back_late(redis):
    """Node b listens again only after node a could have sent what it held: a sends it to b all
    the same, because a waits for as many listeners as it had before Redis went."""
    got_a, got_b = queue.Queue(), queue.Queue()
    a, b = started_relay(redis.url, "a", got_a), started_relay(redis.url, "b", got_b)
    late = None
    try:
        a.send(event(0))
        assert received(got_b, 1) == [0]
        b.stop()  # b's listener is away for longer than a's outbox takes to reach Redis again
        redis.kill()
        for n in range(1, 6):
            a.send(event(n))
        redis.start()
        try:  # long enough for a's outbox to reach Redis again, while no one but a listens
            wait_until(lambda: a.sent > 1, timeout=2 * R.RETRY_MOST, what="a sending while b is away")
        except TimeoutError:
            pass  # a holds them (what it should do)
        late = started_relay(redis.url, "b", got_b)
        assert received(got_b, 5) == [1, 2, 3, 4, 5]
        a.send(event(6))
        assert received(got_b, 1) == [6]
        assert got_b.empty()
    finally:
        for relay in (a, b, late):
            if relay is not None:
                relay.stop()


def test_a_node_that_dropped_out_for_good_does_not_hold_the_others_back_for_long(redis):
    """After Redis is back the outbox waits at most LISTENERS_WAIT for the listeners it had; then it
    sends to those that are there."""
    got_a, got_b, got_c = queue.Queue(), queue.Queue(), queue.Queue()
    a, b = started_relay(redis.url, "a", got_a), started_relay(redis.url, "b", got_b)
    c = started_relay(redis.url, "c", got_c)
    try:
        a.send(event(0))
        assert received(got_b, 1) == [0] and received(got_c, 1) == [0]
        c.stop()  # c is gone for good
        redis.kill()
        a.send(event(1))
        redis.start()
        assert received(got_b, 1) == [1]
    finally:
        for relay in (a, b, c):
            relay.stop()


def test_events_published_on_a_node_while_redis_restarts_reach_the_other_node(tmp_path):
    """Real nodes: Redis killed -9, events published on node A while it is gone and just after it
    is back: node B's subscriber gets every one, once, in order."""
    with Cluster.started(tmp_path, nodes=2, with_components=False) as cluster:
        a, b = cluster.hubs
        with b.client() as on_b, a.backend_client() as pub:
            sub = on_b.subscribe("public.outage")
            pub.publish("public.outage", -1)
            assert sub.get(timeout=10).args == (-1,)
            cluster.redis.kill()
            for n in range(20):
                pub.publish("public.outage", n)
            cluster.redis.start()
            for n in range(20, 40):
                pub.publish("public.outage", n)
            got = [sub.get(timeout=15).args[0] for _ in range(40)]
            pub.publish("public.outage", "end")
            assert sub.get(timeout=15).args == ("end",)
    assert got == list(range(40))


def test_a_call_just_after_redis_lost_the_registrations_is_forwarded_not_refused(tmp_path):
    """Real nodes: node A's router stalled (SIGSTOP) while Redis is killed -9 and started again
    without its data, as after an outage longer than the registrations' time to live (they expire
    the same way), so node B reads the registry before A can write its list again. B's call to A's
    procedure is forwarded all the same, held, and answered once A is back; A writes its list again
    at once. Before, B answered wamp.error.no_such_procedure until A's next write and B's next read."""
    with Cluster.started(tmp_path, nodes=2, with_components=False) as cluster:
        a, b = cluster.hubs
        with a.backend_client() as callee, b.backend_client() as caller:
            callee.register("cluster.echo", lambda n: n)
            wait_until(lambda: _outcome(caller, 0) == 0, timeout=15, what="cluster.echo callable on B")
            router_a = a.worker_pid("router")
            os.kill(router_a, signal.SIGSTOP)
            try:
                cluster.redis.kill()
                shutil.rmtree(cluster.redis.workdir / "appendonlydir")  # every key gone, as expired
                cluster.redis.start()
                store = link.client(cluster.redis.url)
                wait_until(lambda: _calls(store, "smembers") > 0, timeout=15, what="B reading the registry again")
                with concurrent.futures.ThreadPoolExecutor(1) as pool:
                    outcome = pool.submit(_outcome, caller, 1)
                    wait_until(lambda: outcome.done() or _waiting(b) == 1, timeout=15, what="B's call made")
                    os.kill(router_a, signal.SIGCONT)
                    assert outcome.result(30) == 1
            finally:
                os.kill(router_a, signal.SIGCONT)
            registries = wire.procedures_key(a.realm, "*")
            wait_until(lambda: len(store.keys(registries)) == 2, timeout=10, what="A's list written again")
            assert _outcome(caller, 2) == 2


def _calls(store, command: str) -> int:
    return store.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


def _waiting(hub) -> float:
    return sample(metrics(hub), "switchboard_cluster_calls_waiting", realm=hub.realm)


def _outcome(client, n: int):
    """What a call of cluster.echo(n) came to: its result, or its error's URI."""
    try:
        return client.call("cluster.echo", n, timeout=10)
    except ApplicationError as e:
        return e.error
    except TimeoutError:
        return "no answer"

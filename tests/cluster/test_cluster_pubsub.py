"""Pub/sub across the nodes of a cluster: exact, prefix and wildcard subscriptions, publisher
disclosure, one publication id everywhere, retained events, filters, node-local topics."""

import pytest
from switchboard.bridge.client import HubClient

from tests.cluster.scrape import metrics, sample


def test_an_event_published_on_one_node_reaches_subscribers_on_every_node(cluster):
    a, b, c = cluster.hubs
    with a.client() as on_a, b.client() as on_b, c.client() as on_c, a.backend_client() as pub:
        subs = [s.subscribe("public.news") for s in (on_a, on_b, on_c)]
        pub.publish("public.news", {"n": 1}, extra="x")
        events = [s.get(timeout=5) for s in subs]
    assert [e.args for e in events] == [({"n": 1},)] * 3
    assert [e.kwargs for e in events] == [{"extra": "x"}] * 3
    assert len({e.publication for e in events}) == 1, "one publication id on every node"


@pytest.mark.parametrize("match,topic", [("prefix", "public."), ("wildcard", "public..score")])
def test_pattern_subscriptions_on_another_node_get_the_topic(cluster, match, topic):
    a, b, _ = cluster.hubs
    with b.client() as sub_client, a.backend_client() as pub:
        sub = sub_client.subscribe(topic, match=match)
        pub.publish("public.game.score", 7)
        event = sub.get(timeout=5)
    assert event.args == (7,) and event.topic == "public.game.score"


def test_each_event_arrives_once_and_in_order(cluster):
    a, b, c = cluster.hubs
    with c.client() as sub_client, a.backend_client() as pub_a:
        sub = sub_client.subscribe("public.seq")
        for i in range(200):
            pub_a.publish("public.seq", i, acknowledge=False)
        got = [sub.get(timeout=5).args[0] for _ in range(200)]
        pub_a.publish("public.seq", "end")
        assert sub.get(timeout=5).args == ("end",)
    assert got == list(range(200))


def test_a_disclosed_publisher_is_disclosed_on_the_other_nodes_too(cluster):
    a, b, _ = cluster.hubs
    # anonymous may publish django.events.* with the publisher disclosed (config.json)
    with b.backend_client() as sub_client, a.client() as pub:
        sub = sub_client.subscribe("django.events.", match="prefix")
        pub.publish("django.events.hello", 1)
        event = sub.get(timeout=5)
    assert event.publisher == pub.session_id


def test_another_node_discloses_the_publisher_exactly_as_the_origin_does(cluster):
    a, b, _ = cluster.hubs
    with a.client() as local, b.client() as remote, a.backend_client() as pub:
        here, there = local.subscribe("public.who"), remote.subscribe("public.who")
        pub.publish("public.who", 1)
        assert here.get(timeout=5).publisher == there.get(timeout=5).publisher == pub.session_id


def test_the_bridge_on_one_node_publishes_to_every_node(cluster):
    a, b, c = cluster.hubs
    bridge = HubClient(c.bridge_url, key=c.bridge_key, secret=c.bridge_secret)
    with a.client() as on_a, b.client() as on_b:
        subs = [on_a.subscribe("public.from_django"), on_b.subscribe("public.from_django")]
        bridge.publish("public.from_django", "hi")
        assert [s.get(timeout=5).args for s in subs] == [("hi",), ("hi",)]


def test_a_retained_event_is_retained_on_every_node(cluster):
    a, b, c = cluster.hubs
    with a.backend_client() as pub:
        pub.publish("public.status", {"state": "green"}, retain=True)
    for hub in (b, c):
        with hub.client() as late:
            sub = late.subscribe("public.status", get_retained=True)
            event = sub.get(timeout=5)
            assert event.retained and event.args == ({"state": "green"},)


def test_a_node_started_later_has_the_retained_events(cluster, tmp_path):
    from switchboard.router import settings as S
    from switchboard.router.testing.hub import Hub

    a = cluster.hubs[0]
    with a.backend_client() as pub:
        pub.publish("public.banner", "welcome", retain=True)
    env = {S.ENV_REDIS_URL: cluster.redis.url}
    with Hub.started(tmp_path / "late", env=env, secrets_file=cluster.secrets_file) as late:
        with late.client() as c:
            event = c.subscribe("public.banner", get_retained=True).get(timeout=5)
    assert event.retained and event.args == ("welcome",)


def test_exclude_and_eligible_hold_across_nodes(cluster):
    a, b, _ = cluster.hubs
    with b.client() as one, b.client() as two, a.backend_client() as pub:
        s1, s2 = one.subscribe("public.private"), two.subscribe("public.private")
        pub.publish("public.private", "for two", eligible=[two.session_id])
        pub.publish("public.private", "not for two", exclude=[two.session_id])
        assert s2.get(timeout=5).args == ("for two",)
        assert s1.get(timeout=5).args == ("not for two",)
        pub.publish("public.private", "end")
        assert s1.get(timeout=5).args == ("end",) and s2.get(timeout=5).args == ("end",)


def test_node_local_topics_stay_on_their_node(cluster):
    """Every node's demo clock ticks on clock.tick: a client hears its own node's clock only."""
    a = cluster.hubs[0]
    with a.client() as c:
        sub = c.subscribe("clock.tick")
        first, second = sub.get(timeout=5), sub.get(timeout=5)
    assert first.args[0]["time"] != second.args[0]["time"], "one tick per second, not one per node"


def test_metrics_count_the_relayed_events_and_not_the_tap(cluster):
    a, b, _ = cluster.hubs
    before_out = sample(metrics(a), "switchboard_cluster_events_total", direction="out")
    before_in = sample(metrics(b), "switchboard_cluster_events_total", direction="in")
    with b.client() as sub_client, a.backend_client() as pub:
        sub = sub_client.subscribe("public.metered")
        pub.publish("public.metered", 1)
        sub.get(timeout=5)
    assert sample(metrics(a), "switchboard_cluster_events_total", direction="out") > before_out
    assert sample(metrics(b), "switchboard_cluster_events_total", direction="in") > before_in
    # the tap's catch-all subscription on "" is not one of the node's subscriptions
    with a.admin_client() as admin:
        stats = admin.call("switchboard.admin.stats")
    assert "" not in [t["uri"] for t in stats["topics"]]

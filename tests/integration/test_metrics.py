"""`GET /metrics` of a real hub (router/services/metrics.py): Prometheus text that the official
parser reads, with sessions by role and transport, subscriptions and registrations, WAMP messages
received and sent by type, refusals by reason and the HTTP bridge's requests, each moving with the
traffic a test makes."""

from __future__ import annotations

import pytest
import urllib3
from autobahn.wamp.exception import ApplicationError
from prometheus_client.parser import text_string_to_metric_families
from switchboard.bridge import uris
from switchboard.bridge.client import HubClient
from switchboard.bridge.limits import LIMITS
from switchboard.router import settings as S
from switchboard.router.testing.hub import Hub

http = urllib3.PoolManager(retries=False, timeout=10)
BURST = 3


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The default hub without its clock component (it publishes every second, and the counts
    here are exact), with a small publish burst for browser sessions."""
    config = S.load_config(S.CONFIG_FILE)
    config["workers"] = [
        w for w in config["workers"] if not any("clock" in c.get("classname", "") for c in w.get("components", []))
    ]
    env = {LIMITS["publish_burst"].env: str(BURST), LIMITS["publishes_per_second"].env: "1"}
    with Hub.started(tmp_path_factory.mktemp("metrics"), env=env, config=config) as running:
        yield running


def scrape(hub: Hub) -> dict[tuple[str, tuple], float]:
    response = http.request("GET", hub.settings.metrics_url)
    assert response.status == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.data.decode())
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_sessions_by_role_and_transport_and_the_subscriptions(hub):
    before = scrape(hub)
    with hub.client() as a, hub.client() as b:
        a.subscribe("chat.room.metrics-a")
        b.subscribe("chat.room.metrics-b")
        during = scrape(hub)
    sessions = {"realm": hub.realm, "role": "anonymous", "transport": "websocket"}
    assert value(during, "switchboard_sessions", **sessions) == value(before, "switchboard_sessions", **sessions) + 2
    assert value(during, "switchboard_sessions", realm=hub.realm, role=S.BACKEND_ROLE, transport="rawsocket") > 0
    exact = {"realm": hub.realm, "match": "exact"}
    assert (
        value(during, "switchboard_subscriptions", **exact) == value(before, "switchboard_subscriptions", **exact) + 2
    )
    assert value(during, "switchboard_registrations", **exact) > 0
    assert value(during, "process_resident_memory_bytes") > 0


def test_messages_received_and_sent_by_type(hub):
    with hub.client() as caller, hub.backend_client() as publisher, hub.client() as one, hub.client() as two:
        subscriptions = [one.subscribe("chat.room.metrics"), two.subscribe("chat.room.metrics")]
        before = scrape(hub)
        assert caller.call("demo.add2", 1, 2) == 3
        publisher.publish("chat.room.metrics", "x")
        assert [s.get().args for s in subscriptions] == [("x",), ("x",)]
        after = scrape(hub)

    def delta(name, kind):
        return value(after, name, type=kind) - value(before, name, type=kind)

    assert delta("switchboard_messages_received_total", "call") == 1
    assert delta("switchboard_messages_received_total", "publish") == 1
    assert delta("switchboard_messages_sent_total", "invocation") == 1
    assert delta("switchboard_messages_sent_total", "result") == 1
    assert delta("switchboard_messages_sent_total", "published") == 1
    assert delta("switchboard_messages_sent_total", "event") == 2


def test_rate_limit_refusals_are_counted_by_reason(hub):
    before = value(scrape(hub), "switchboard_refused_total", reason=uris.RATE_LIMITED)
    refused = 0
    with hub.client() as c:
        for i in range(BURST + 2):
            try:
                c.publish("django.events.metrics-rate", i)
            except ApplicationError as e:
                assert e.error == uris.RATE_LIMITED
                refused += 1
    assert refused >= 2
    assert value(scrape(hub), "switchboard_refused_total", reason=uris.RATE_LIMITED) == before + refused


def test_dropped_publishes_and_oversized_bodies_are_counted(hub):
    name = "switchboard_refused_total"
    before = scrape(hub)
    with hub.client() as c:
        for i in range(BURST + 2):  # unacknowledged: those over the burst are dropped, not answered
            c.publish("django.events.metrics-unacked", i, acknowledge=False)
        c.call("demo.add2", 1, 2)  # the router has handled every publish sent before this call
    size = int(LIMITS["max_message_size"].default) + 1
    response = http.request("POST", hub.bridge_url + "publish", body=b"x" * size)
    assert response.status == 413
    after = scrape(hub)
    assert value(after, name, reason=uris.RATE_LIMITED) - value(before, name, reason=uris.RATE_LIMITED) >= 2
    assert value(after, name, reason=uris.TOO_LARGE) == value(before, name, reason=uris.TOO_LARGE) + 1


def test_bridge_requests_by_endpoint_and_status(hub):
    name = "switchboard_bridge_request_duration_seconds_count"
    before = scrape(hub)
    with HubClient(hub.bridge_url, hub.bridge_key, hub.bridge_secret) as bridge:
        bridge.publish("chat.room.metrics-bridge", 1)
    assert http.request("POST", hub.bridge_url + "no/such/endpoint/" + "x" * 50).status == 404
    after = scrape(hub)
    assert (
        value(after, name, endpoint="publish", status="200")
        == value(before, name, endpoint="publish", status="200") + 1
    )
    assert value(after, name, endpoint="other", status="404") == value(before, name, endpoint="other", status="404") + 1
    assert not any(labels and dict(labels).get("endpoint", "").startswith("no") for (_, labels) in after)

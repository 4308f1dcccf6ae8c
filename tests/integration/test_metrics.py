"""`GET /metrics` of a real hub (router/services/metrics.py): Prometheus text that the official
parser reads, with sessions by role and transport, subscriptions and registrations, WAMP messages
received and sent by type, bytes, calls by procedure and outcome with their latency, the history
store's writes and size, refusals by reason and the HTTP bridge's requests, each moving with the
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
from switchboard.router.testing.hub import Hub, wait_until

http = urllib3.PoolManager(retries=False, timeout=10)
BURST = 3


def without_clock() -> dict:
    """The default config without its clock component (it publishes every second, and the counts
    here are exact)."""
    config = S.load_config(S.CONFIG_FILE)
    config["workers"] = [
        w for w in config["workers"] if not any("clock" in c.get("classname", "") for c in w.get("components", []))
    ]
    return config


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The default hub without its clock, with a small publish burst for browser sessions."""
    env = {LIMITS["publish_burst"].env: str(BURST), LIMITS["publishes_per_second"].env: "1"}
    with Hub.started(tmp_path_factory.mktemp("metrics"), env=env, config=without_clock()) as running:
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


def test_calls_by_procedure_and_outcome_with_their_latency(hub):
    calls, took = "switchboard_calls_total", "switchboard_call_duration_seconds_count"
    before = scrape(hub)
    with hub.client() as browser, hub.backend_client() as backend:
        assert browser.call("demo.add2", 1, 2) == 3
        assert browser.call("demo.add2", 2, 2) == 4
        for procedure, refused in [("demo.nothing-here", browser), ("no.such.procedure", backend)]:
            with pytest.raises(ApplicationError):
                refused.call(procedure)
        with pytest.raises(ApplicationError) as failed:
            browser.call("history.get", "")  # a router component's refusal of its arguments: the callee's error
        assert failed.value.error == uris.INVALID_ARGUMENT
    after = scrape(hub)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(calls, procedure="demo.add2", outcome="result") == 2
    assert delta(took, procedure="demo.add2") == 2
    assert delta("switchboard_call_duration_seconds_sum", procedure="demo.add2") > 0
    assert delta(calls, procedure="other", outcome="not_authorized") == 1
    assert delta(calls, procedure="other", outcome="no_such_procedure") == 1
    assert delta(calls, procedure="history.get", outcome="error") == 1
    procedures = {dict(labels).get("procedure") for (name, labels) in after if name == calls}
    assert not procedures & {"demo.nothing-here", "no.such.procedure"}, "only registrations become labels"
    inf = value(after, "switchboard_call_duration_seconds_bucket", procedure="demo.add2", le="+Inf")
    assert inf == value(after, took, procedure="demo.add2")


def test_bytes_sent_and_received_by_transport(hub):
    size = 20_000
    with hub.backend_client() as publisher, hub.client() as one, hub.client() as two:
        subscriptions = [one.subscribe("public.metrics-bytes"), two.subscribe("public.metrics-bytes")]
        before = scrape(hub)
        publisher.publish("public.metrics-bytes", "x" * size)
        assert [len(s.get().args[0]) for s in subscriptions] == [size, size]
        after = scrape(hub)

    def delta(name, transport):
        return value(after, name, transport=transport) - value(before, name, transport=transport)

    assert 2 * size < delta("switchboard_bytes_sent_total", "websocket") < 2 * size + 1000  # two events
    assert delta("switchboard_bytes_sent_total", "rawsocket") < 1000  # the PUBLISHED
    assert size < delta("switchboard_bytes_received_total", "rawsocket") < size + 1000  # the PUBLISH


def test_bytes_of_a_closed_connection_still_count(hub):
    name = "switchboard_bytes_sent_total"
    before = value(scrape(hub), name, transport="websocket")
    with hub.backend_client() as publisher, hub.client() as listener:
        subscription = listener.subscribe("chat.room.metrics-closed")
        publisher.publish("chat.room.metrics-closed", "y" * 10_000)
        subscription.get()
    wait_until(
        lambda: (
            value(scrape(hub), "switchboard_sessions", realm=hub.realm, role="anonymous", transport="websocket") == 0
        ),
        what="the browser session gone",
    )
    assert value(scrape(hub), name, transport="websocket") - before > 10_000


def test_history_writes_and_store_size(hub):
    before = scrape(hub)
    with hub.backend_client() as publisher:
        for i in range(3):
            publisher.publish("chat.room.metrics-history", i)  # acknowledged once stored
        publisher.publish("public.metrics-no-history", 1)  # not a history topic: not written

    def moved():
        now = scrape(hub)
        written = value(now, "switchboard_history_writes_total") - value(before, "switchboard_history_writes_total")
        return now if written >= 3 else None

    after = wait_until(moved, what="the history writes counted")
    assert value(after, "switchboard_history_writes_total") - value(before, "switchboard_history_writes_total") == 3
    assert value(after, "switchboard_history_events") - value(before, "switchboard_history_events") == 3
    assert value(after, "switchboard_history_bytes") > 0


def test_with_the_counting_off_only_what_the_router_holds_is_served(tmp_path):
    """SWITCHBOARD_METRICS=0 (to measure what the counting costs): gauges yes, counts of traffic no."""
    with Hub.started(tmp_path, env={S.ENV_METRICS: "0"}, config=without_clock()) as off:
        with off.client() as c:
            assert c.call("demo.add2", 1, 2) == 3
        samples = scrape(off)
    assert value(samples, "switchboard_sessions", realm=off.realm, role=S.BACKEND_ROLE, transport="rawsocket") > 0
    counted = [(name, v) for (name, _), v in samples.items() if name.startswith("switchboard_messages_") and v]
    assert counted == []
    left_out = ("switchboard_calls", "switchboard_call_duration", "switchboard_bytes")
    assert not [name for name, _ in samples if name.startswith(left_out)]
    assert value(samples, "switchboard_history_events") >= 0 and ("switchboard_history_writes_total", ()) in samples


@pytest.mark.parametrize(
    ("header", "forwarded"),
    [("X-Forwarded-For", "203.0.113.5"), ("X-Real-IP", "127.0.0.1"), ("Forwarded", "for=192.0.2.60;proto=https")],
)
def test_a_request_through_a_proxy_is_from_beyond_loopback_even_on_a_loopback_hub(hub, header, forwarded):
    """The hub listens on 127.0.0.1 and has no token: /metrics is open from this machine, but a request
    naming a forwarded client (as a reverse proxy on this machine sends it) gets the 403 of a hub
    listening beyond loopback without a token; with a token it is 401 without it (test_nginx_deploy.py)."""
    assert http.request("GET", hub.settings.metrics_url).status == 200
    refused = http.request("GET", hub.settings.metrics_url, headers={header: forwarded})
    assert refused.status == 403, refused.data
    assert refused.json() == {
        "error": uris.WAMP_NOT_AUTHORIZED,
        "message": f"the request came through a proxy ({header}), from beyond loopback, and "
        f"{S.ENV_METRICS_TOKEN} is not set",
    }
    assert http.request("GET", hub.settings.metrics_url, headers={header.lower(): forwarded}).status == 403

"""switchboard.bridge.client.HubClient against a real hub's HTTP bridge (docs/http-bridge.md), end to end over WAMP.

Subscribers and test callees are backend sessions (the anonymous role may only subscribe to the
app's own topics), except where a browser's view is the point. Every test uses its own topic.
"""

import asyncio
import threading
import time
import uuid

import pytest
from switchboard.bridge import errors
from switchboard.bridge.client import CALL_TIMEOUT_MARGIN, CallResult, HubClient, PublishResult
from switchboard.router.testing.hub import Hub, wait_until


def unique(prefix: str = "test.bridge") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:12]}"


def client_for(hub: Hub, **kwargs) -> HubClient:
    return HubClient(hub.bridge_url, hub.bridge_key, hub.bridge_secret, **kwargs)


@pytest.fixture(scope="module")
def bridge(switchboard_hub):
    client = client_for(switchboard_hub)
    wait_until(client.health, timeout=30, what="bridge session joined")
    with client:
        yield client


@pytest.fixture
def listener(switchboard_hub):
    with switchboard_hub.backend_client() as session:
        yield session


def test_health_is_true_on_a_running_hub(bridge):
    assert bridge.health() is True


def test_publish_reaches_a_browser_subscriber(switchboard_hub, bridge):
    topic = unique("chat.room")  # a topic the anonymous (browser) role may subscribe to
    with switchboard_hub.client() as browser:
        sub = browser.subscribe(topic)
        result = bridge.publish(topic, {"id": 7}, "two", note="hi")
        event = sub.get(timeout=5)
    assert event.args == ({"id": 7}, "two") and event.kwargs == {"note": "hi"}
    assert isinstance(result, PublishResult) and result.duplicate is False
    assert len(result.id) == 32 and int(result.id, 16) >= 0


def test_a_duplicate_id_is_delivered_once(bridge, listener):
    topic, event_id = unique(), uuid.uuid4().hex
    sub = listener.subscribe(topic)
    first = bridge.publish_event(topic, [1], id=event_id)
    second = bridge.publish_event(topic, [2], id=event_id)
    bridge.publish(topic, "marker")
    assert first == PublishResult(event_id, False)
    assert second == PublishResult(event_id, True)
    assert sub.get(timeout=5).args == (1,)
    assert sub.get(timeout=5).args == ("marker",), "the duplicate must not have been published"


def test_publish_many_delivers_every_event_in_order_across_batches(bridge, listener):
    topic = unique()
    sub = listener.subscribe(topic)
    count = 1205  # two POST /bridge/batch requests
    events = [{"topic": topic, "args": [i]} for i in range(count)]
    events[3]["id"] = "mine-3"
    events[1100]["kwargs"] = {"late": True}
    results = bridge.publish_many(events)
    assert len(results) == count and not any(r.duplicate for r in results)
    assert results[3].id == "mine-3" and len({r.id for r in results}) == count
    received = [sub.get(timeout=5) for _ in range(count)]
    assert [e.args[0] for e in received] == list(range(count))
    assert received[1100].kwargs == {"late": True}

    again = bridge.publish_many([{"topic": topic, "args": ["again"], "id": results[0].id}])
    assert again == [PublishResult(results[0].id, True)]


def test_publish_with_retain_is_kept_for_new_subscribers(switchboard_hub, bridge):
    topic = unique()
    bridge.publish_event(topic, ["kept"], {"n": 1}, options={"retain": True})
    with switchboard_hub.backend_client() as late:
        event = late.subscribe(topic, get_retained=True).get(timeout=5)
    assert event.retained and event.args == ("kept",) and event.kwargs == {"n": 1}


def test_what_only_the_hub_checks_comes_back_as_bad_request(bridge, listener):
    topic = unique()
    sub = listener.subscribe(topic)
    with pytest.raises(errors.BadRequest) as info:
        bridge.publish_event(topic, ["x"], options={"retain": "yes"})
    assert info.value.status == 400 and "retain" in str(info.value)
    with pytest.raises(errors.BadRequest) as info:
        bridge.publish_many([{"topic": topic, "args": [0]}, {"topic": topic, "options": {"retain": "yes"}}])
    assert info.value.status == 400 and "events[1]" in str(info.value) and info.value.results == []
    bridge.publish(topic, "marker")
    assert sub.get(timeout=5).args == ("marker",), "a refused batch publishes nothing"


def test_call_returns_the_result(bridge):
    assert bridge.call("demo.add2", 2, 3) == 5
    assert bridge.call("demo.add2", a=1.5, b=-0.5) == 1.0


def test_call_result_shapes(bridge, listener):
    from autobahn.wamp.types import CallResult as WampResult

    procedure = unique("test.shapes")
    answers = {
        "nothing": lambda: None,
        "dict": lambda: {"a": 1},
        "several": lambda: WampResult(1, 2, total=3),
        "kwargs only": lambda: WampResult(total=3),
    }
    listener.register(procedure, lambda kind: answers[kind]())
    assert bridge.call(procedure, "nothing") is None
    assert bridge.call(procedure, "dict") == {"a": 1}
    assert bridge.call(procedure, "several") == CallResult([1, 2], {"total": 3})
    assert bridge.call(procedure, "kwargs only") == CallResult([], {"total": 3})


def test_call_with_bad_arguments_raises_the_callees_error(bridge):
    with pytest.raises(errors.ApplicationError) as info:
        bridge.call("demo.add2", "2", 3)
    assert info.value.status == 422
    assert info.value.uri == "switchboard.error.invalid_argument"
    assert info.value.uri in str(info.value)


def test_call_to_an_unknown_procedure_raises_no_such_procedure(bridge):
    with pytest.raises(errors.NoSuchProcedure) as info:
        bridge.call(unique("test.nobody"))
    assert info.value.status == 404 and info.value.uri == "wamp.error.no_such_procedure"


def test_a_wrong_secret_is_not_authorized(switchboard_hub):
    with HubClient(switchboard_hub.bridge_url, switchboard_hub.bridge_key, "not-the-secret") as wrong:
        with pytest.raises(errors.NotAuthorized) as info:
            wrong.publish(unique(), 1)
        assert info.value.status == 401 and info.value.reason == "bad_signature"
        with pytest.raises(errors.NotAuthorized):
            wrong.call("demo.add2", 2, 3)


def test_an_unknown_key_is_not_authorized(switchboard_hub):
    with HubClient(switchboard_hub.bridge_url, "nobody", switchboard_hub.bridge_secret) as wrong:
        with pytest.raises(errors.NotAuthorized) as info:
            wrong.call("demo.add2", 2, 3)
    assert info.value.reason == "unknown_key"


def test_many_threads_share_one_client(bridge):
    results, failures = [], []

    def work(n):
        try:
            results.append(bridge.call("demo.add2", n, 1))
        except Exception as e:  # reported below
            failures.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not failures and sorted(results) == list(range(1, 31))


def test_call_timeout_raises_call_timeout_and_cancels_the_call(switchboard_hub, bridge):
    procedure = unique("test.slow")
    started, cancelled = threading.Event(), threading.Event()

    async def never_answers():
        started.set()
        try:
            await asyncio.Future()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with switchboard_hub.backend_client() as callee:
        callee.register(procedure, never_answers)
        began = time.monotonic()
        with pytest.raises(errors.CallTimeout) as info:
            bridge.call(procedure, timeout=1)
        elapsed = time.monotonic() - began
        assert info.value.status == 504 and info.value.uri == "switchboard.error.timeout"
        assert started.is_set()
        assert 1 <= elapsed < 1 + CALL_TIMEOUT_MARGIN, "the hub's 504 must come before the client's read timeout"
        assert cancelled.wait(5), "the hub must cancel the timed-out call at the callee"


# -- a hub of our own, to stop and start ---------------------------------------------------------


@pytest.fixture(scope="module")
def own_hub(tmp_path_factory):
    with Hub.started(tmp_path_factory.mktemp("bridge-client-hub")) as hub:
        yield hub


def test_a_stopped_hub_raises_hub_unavailable_after_retries_then_the_client_recovers(own_hub):
    waits = []
    with client_for(own_hub, retries=2, backoff=0.05) as client:
        client._sleep = waits.append  # record the backoff instead of waiting it out
        wait_until(client.health, timeout=30, what="bridge session joined")
        assert client.publish(unique(), "before").duplicate is False  # leaves a keep-alive connection
        own_hub.stop()
        try:
            with pytest.raises(errors.HubUnavailable) as info:
                client.publish(unique(), "while stopped")
            assert len(waits) == 2, "publish is tried 1 + retries times"
            assert info.value.status is None and info.value.maybe_processed is False
            with pytest.raises(errors.HubUnavailable):
                client.call("demo.add2", 2, 3)
            assert len(waits) == 4, "a call that never reached the hub is retried too"
            assert client.health() is False
        finally:
            own_hub.start()
        wait_until(client.health, timeout=30, what="bridge session joined after restart")
        assert client.call("demo.add2", 2, 3) == 5
        with own_hub.backend_client() as listener:
            topic = unique()
            sub = listener.subscribe(topic)
            client.publish(topic, "after")
            assert sub.get(timeout=5).args == ("after",)

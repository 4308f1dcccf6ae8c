"""An acknowledged publish to a history topic is on disk: kill -9 of the router right after the last
acknowledgement loses none of them (router/patches/durable_ack.py holds PUBLISHED until the history commit).

Each round posts as fast as a few concurrent publishers can, kills the router worker the moment the
last acknowledgement is back, restarts the hub and counts the acknowledged events history lacks.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest
from switchboard.bridge.client import HubClient
from switchboard.router.testing.hub import Hub

#: Rounds per publisher kind, concurrent publishers per round, events per publisher.
ROUNDS, PUBLISHERS, PER_PUBLISHER = 3, 4, 15


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with Hub.started(tmp_path_factory.mktemp("durable-ack")) as hub:
        yield hub


def arrival_order(client) -> list[str]:
    """The WAMP messages `client` receives from now on, by type, in the order they arrive."""
    seen: list[str] = []
    stock = client.session.onMessage

    def on_message(msg):
        seen.append(type(msg).__name__)
        return stock(msg)

    client.session.onMessage = on_message
    return seen


@pytest.mark.parametrize(
    "topic, options, held",
    [
        ("chat.room.order", {}, True),  # history stores it: PUBLISHED waits for the commit, after the EVENT
        ("public.order", {}, False),  # no history: PUBLISHED first, as Crossbar sends it
        ("chat.room.order-eligible", {"eligible": "me"}, False),  # the history component is not eligible
    ],
)
def test_published_waits_for_the_commit_only_where_history_stores_the_event(hub, topic, options, held):
    with hub.backend_client() as c:
        sub = c.subscribe(topic)
        if options.get("eligible") == "me":
            options = {"eligible": [c.session_id]}
        seen = arrival_order(c)
        c.publish(topic, {"text": "x"}, exclude_me=False, **options)
        sub.get()
        assert seen == (["Event", "Published"] if held else ["Published", "Event"])
        if held:
            assert [e["args"] for e in c.call("history.get", topic)["events"]] == [[{"text": "x"}]]
    assert "durable_ack:" not in hub.log_text()


def acknowledged_then_killed(hub, publish_all) -> list[str]:
    """Run every publisher (each returns the ids it got acknowledged) in its own thread, kill -9 the
    router as soon as the last one returns, restart the hub; the acknowledged ids."""
    router_pid = hub.worker_pid("router")
    acked: list[list[str]] = [[] for _ in range(PUBLISHERS)]
    errors: list[BaseException] = []

    def run(i):
        try:
            publish_all(i, acked[i])
        except BaseException as e:  # reported below, after the kill
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(PUBLISHERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    os.kill(router_pid, signal.SIGKILL)
    hub.restart()
    assert not errors, errors
    return [i for ids in acked for i in ids]


def stored_ids(hub, topic: str) -> list[str]:
    with hub.backend_client() as c:
        return [e["args"][0]["id"] for e in c.call("history.get", topic, limit=1000)["events"]]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_no_acknowledged_chat_post_is_lost_to_a_router_kill(hub, round_):
    room = f"kill-chat-{round_}"

    def post(i, acked):
        with hub.backend_client() as c:  # a browser's calls are rate limited; chat.post is the same
            for n in range(PER_PUBLISHER):
                acked.append(c.call("chat.post", room, f"p{i} m{n}", "ann")["id"])

    acked = acknowledged_then_killed(hub, post)
    stored = stored_ids(hub, f"chat.room.{room}")
    lost = [i for i in acked if i not in stored]
    assert len(acked) == PUBLISHERS * PER_PUBLISHER
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged chat messages lost to kill -9"


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_no_bridge_publish_answered_200_is_lost_to_a_router_kill(hub, round_):
    topic = f"chat.room.kill-bridge-{round_}"

    def publish(i, acked):
        with HubClient(hub.bridge_url, hub.bridge_key, hub.bridge_secret, retries=0) as http:
            for n in range(PER_PUBLISHER):
                event_id = f"b{round_}-{i}-{n}"
                http.publish_event(topic, [{"id": event_id}], id=event_id)  # raises unless 200
                acked.append(event_id)

    acked = acknowledged_then_killed(hub, publish)
    stored = stored_ids(hub, topic)
    lost = [i for i in acked if i not in stored]
    assert len(acked) == PUBLISHERS * PER_PUBLISHER
    assert not lost, f"{len(lost)} of {len(acked)} bridge publishes answered 200 lost to kill -9"
    assert len(stored) == len(set(stored))

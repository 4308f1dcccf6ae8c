"""The outbox against a real hub whose router is killed -9 while Django publishes to a history topic:
after the restart the outbox delivers the rest, and every event is in history (nothing the hub
answered 200 for is lost: router/durable_ack.py), once (a replay of what it published but could not
answer is dropped by the bridge's event ids, when it remembers them: not after a kill in the middle
of a batch, see below)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from bridge.django import delivery, publish
from bridge.django.models import OutboxEvent
from tests.django.conftest import wait_for_hub

pytestmark = pytest.mark.django_db(transaction=True)

#: events per test, and the one whose live delivery triggers the kill
N, KILL_AT = 40, 15


def kill_router_when_seen(hub, watcher, topic: str, value) -> threading.Thread:
    """A thread that kill -9s the router worker as soon as `watcher` gets the event `[value]` live:
    the publish of that event (and the outbox's request carrying it) is in flight then."""
    router_pid = hub.worker_pid("router")
    live = watcher.subscribe(topic)

    def kill():
        live.wait_for(lambda e: list(e.args) == [value], timeout=120)
        os.kill(router_pid, signal.SIGKILL)

    thread = threading.Thread(target=kill, name="router killer")
    thread.start()
    return thread


def restart_and_deliver_the_rest(hub, topic: str) -> list:
    """Restart the hub, let the outbox deliver what is pending; the args of the events history holds."""
    hub.restart()  # the killed router worker stopped the node
    wait_for_hub(hub)
    report = delivery.deliver_pending()
    assert report.ok, report
    assert OutboxEvent.objects.pending().count() == 0
    with hub.backend_client() as c:
        return [e["args"] for e in c.call("history.get", topic, limit=1000)["events"]]


@pytest.mark.parametrize("how", ["on commit", "one batch"])
def test_outbox_events_are_in_history_once_each_after_a_router_kill(hub_settings, settings, how):
    hub = hub_settings
    topic = f"chat.room.outbox-kill-{how.replace(' ', '-')}"
    if how == "one batch":  # all pending, then one /bridge/batch request killed in its middle
        settings.SWITCHBOARD = {**settings.SWITCHBOARD, "OUTBOX": {"SEND_ON_COMMIT": False}}
    with hub.backend_client() as watcher:
        killer = kill_router_when_seen(hub, watcher, topic, KILL_AT)
        for i in range(N):
            publish(topic, i)  # each its own transaction; on commit: one request, fails fast once the hub is down
        if how == "one batch":
            assert delivery.deliver_pending().ok is False  # the hub went away in the middle of it
        killer.join(120)
    assert not killer.is_alive()
    assert OutboxEvent.objects.pending().exists()  # the kill left work for the outbox
    stored = restart_and_deliver_the_rest(hub, topic)
    missing = sorted(set(range(N)) - {a[0] for a in stored})
    twice = sorted({a[0] for a in stored if stored.count(a) > 1})
    assert not missing, f"events the outbox delivered are missing from history: {missing} (twice: {twice})"
    if twice and how == "one batch":
        # README "Known limits": a bridge request killed before its answer may be forgotten (its event
        # ids are written behind, not with the history commit), so the outbox's replay of the killed
        # batch publishes again what the router had published before the kill.
        pytest.xfail(f"the killed batch's replay stored {twice} twice: the bridge forgot their event ids")
    assert stored == [[i] for i in range(N)], f"twice: {twice}"

"""The outbox against a real hub whose router is killed -9 while Django publishes to a history topic:
after the restart the outbox delivers the rest, and every event is in history (nothing the hub
answered 200 for is lost: router/patches/durable_ack.py), once (a replay of what it published but could not
answer is dropped by the bridge's event ids, when it remembers them: not after a kill in the middle
of a batch, see below)."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from switchboard.bridge.django import delivery, publish
from switchboard.bridge.django.models import OutboxEvent

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
def test_outbox_events_are_in_history_after_a_router_kill(hub_settings, settings, how):
    """No event is lost; the only duplicates are the documented ones (README "Known limits"): what
    was in flight when the router died, whose event ids the bridge had not yet written (one request
    on commit; the killed batch's events before the kill, if the kill caught it in its middle)."""
    hub = hub_settings
    topic = f"chat.room.outbox-kill-{how.replace(' ', '-')}"
    if how == "one batch":  # all pending, then one /bridge/batch request, killed if still in flight
        settings.SWITCHBOARD = {**settings.SWITCHBOARD, "OUTBOX": {"SEND_ON_COMMIT": False}}
    try:
        with hub.backend_client() as watcher:
            killer = kill_router_when_seen(hub, watcher, topic, KILL_AT)
            for i in range(N):
                publish(topic, i)  # each its own transaction; on commit: one request, fails fast once the hub is down
            if how == "one batch":
                delivery.deliver_pending()  # killed in its middle, or done just before the kill
            killer.join(120)
        assert not killer.is_alive()
        stored = restart_and_deliver_the_rest(hub, topic)
    finally:
        if not hub.node.running:  # the session's hub must outlive a failure here
            hub.restart()
    missing = sorted(set(range(N)) - {a[0] for a in stored})
    twice = sorted({a[0] for a in stored if stored.count(a) > 1})
    assert not missing, f"events the outbox delivered are missing from history: {missing} (twice: {twice})"
    if how == "on commit":
        assert len(twice) <= 1, f"only the request in flight at the kill may be stored twice: {twice}"
    assert sorted(a[0] for a in stored if a[0] not in twice) == [i for i in range(N) if i not in twice]

"""The transactional outbox against a fake hub: commit/rollback, order per topic, refusals, outages."""

import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone
from switchboard.bridge.django import delivery, publish, publish_event, sender
from switchboard.bridge.django.models import OutboxEvent

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


def test_publish_after_commit_delivers_at_once(fake_hub):
    with transaction.atomic():
        row = publish("a.b", 1, {"x": 2}, flag=True)
        assert fake_hub.published == []  # not before the commit
        assert OutboxEvent.objects.pending().count() == 1
    assert fake_hub.published == [{"topic": "a.b", "args": [1, {"x": 2}], "kwargs": {"flag": True}, "id": row.event_id}]
    row.refresh_from_db()
    assert row.delivered_at is not None and row.attempts == 1 and row.last_error == ""


def test_rolled_back_transaction_publishes_nothing(fake_hub):
    with pytest.raises(Boom):
        with transaction.atomic():
            publish("a.b", 1)
            raise Boom
    assert OutboxEvent.objects.count() == 0
    assert fake_hub.batches == []


def test_rolled_back_savepoint_drops_only_its_events(fake_hub):
    with transaction.atomic():
        publish("a.kept", 1)
        with pytest.raises(Boom), transaction.atomic():
            publish("a.dropped", 2)
            raise Boom
    assert fake_hub.topics_args == [("a.kept", [1])]


def test_event_ids_and_options_reach_the_hub(fake_hub):
    publish_event("a.b", [1], {"k": "v"}, id="my-id-1", options={"retain": True, "exclude_authid": ["7"]})
    assert fake_hub.published == [
        {
            "topic": "a.b",
            "args": [1],
            "kwargs": {"k": "v"},
            "id": "my-id-1",
            "options": {"retain": True, "exclude_authid": ["7"]},
        }
    ]


def test_datetimes_decimals_and_uuids_become_strings(fake_hub):
    import decimal
    import uuid

    when = timezone.now()
    token = uuid.uuid4()
    publish("a.b", when=when, price=decimal.Decimal("1.50"), token=token)
    # As JavaScript's Date.toJSON() writes them: milliseconds, "Z".
    assert fake_hub.published[0]["kwargs"] == {
        "when": when.isoformat(timespec="milliseconds")[:-6] + "Z",
        "price": "1.50",
        "token": str(token),
    }


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: publish("bad topic", 1), "not a valid WAMP URI"),
        (lambda: publish("wamp.session.x"), "reserved for the router"),
        (lambda: publish("a." * 200 + "b"), "at most 255"),
        (lambda: publish_event("a.b", options={"acknowledge": True}), "options.acknowledge is not supported"),
        (lambda: publish_event("a.b", id=""), "id must be a string of 1-128 characters"),
        (lambda: publish_event("a.b", kwargs={"options": 1}), "reserved name"),
        (lambda: publish("a.b", "x" * (1024 * 1024)), "the hub takes at most"),
    ],
)
def test_events_the_hub_would_refuse_are_refused_at_once(fake_hub, call, message):
    with pytest.raises(ValueError, match=message):
        call()
    assert OutboxEvent.objects.count() == 0


def test_values_json_cannot_carry_are_a_type_error(fake_hub):
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        publish("a.b", object())
    with pytest.raises(TypeError, match="args must be a list"):
        publish_event("a.b", "not a list")


def test_hub_down_keeps_events_then_delivers_each_once_in_order(fake_hub):
    fake_hub.fail_next = 3
    for i in range(3):
        publish("t.one", i)
    rows = list(OutboxEvent.objects.all())
    assert [r.delivered_at for r in rows] == [None, None, None]
    assert all("HubUnavailable" in r.last_error for r in rows)
    assert fake_hub.published == []

    report = delivery.deliver_pending()
    assert report.ok and report.delivered == 3
    assert fake_hub.topics_args == [("t.one", [0]), ("t.one", [1]), ("t.one", [2])]
    assert delivery.deliver_pending().delivered == 0  # nothing twice
    assert len(fake_hub.published) == 3


def test_a_new_event_never_overtakes_an_older_pending_one(fake_hub):
    fake_hub.fail_next = 1
    publish("t.one", "old")  # the hub is down: stays pending
    publish("t.one", "new")  # its on_commit delivery sends the old one first
    assert fake_hub.topics_args == [("t.one", ["old"]), ("t.one", ["new"])]


def test_immediate_delivery_sends_only_the_topic_of_the_commit(fake_hub):
    fake_hub.fail_next = 1
    publish("t.other", "waiting")
    publish("t.one", "now")
    assert fake_hub.topics_args == [("t.one", ["now"])]
    delivery.deliver_pending()
    assert fake_hub.topics_args[-1] == ("t.other", ["waiting"])


def test_a_refused_event_holds_back_its_topic_but_not_others(fake_hub):
    with transaction.atomic():
        first = publish("t.bad", 1)
        publish("t.bad", 2)
        publish("t.good", 3)
        publish("t.good", 4)
    fake_hub.published.clear()
    OutboxEvent.objects.update(delivered_at=None, attempts=0)
    fake_hub.refuse[first.event_id] = 403

    report = delivery.deliver_pending()
    assert report.refused == 1 and report.delivered == 2 and report.refused_topics == {"t.bad"}
    assert fake_hub.topics_args == [("t.good", [3]), ("t.good", [4])]
    first.refresh_from_db()
    assert first.is_pending and first.retry_at > timezone.now() and "refused (fake 403)" in first.last_error
    assert OutboxEvent.objects.get(args=[2]).attempts == 0  # never sent

    # Before its retry time the topic waits; a later event of it waits too.
    publish("t.bad", 5)
    assert delivery.deliver_pending().delivered == 0
    # Fixed at the hub (or in the data): "deliver now" sends the topic in order.
    del fake_hub.refuse[first.event_id]
    report = delivery.deliver_pending(topics=["t.bad"], force=True)
    assert report.delivered == 3
    assert fake_hub.topics_args[-3:] == [("t.bad", [1]), ("t.bad", [2]), ("t.bad", [5])]


def test_refused_event_is_found_when_the_hub_does_not_say_which(fake_hub):
    fake_hub.known_index = False
    with transaction.atomic():
        publish("t.a", 1)
        bad = publish("t.b", 2)
        publish("t.a", 3)
    fake_hub.published.clear()
    OutboxEvent.objects.update(delivered_at=None, attempts=0)
    fake_hub.refuse[bad.event_id] = 400
    report = delivery.deliver_pending()
    assert (report.delivered, report.refused) == (2, 1)
    assert fake_hub.topics_args.count(("t.a", [1])) == 1 and ("t.a", [3]) in fake_hub.topics_args


def test_refused_event_waits_longer_each_time(fake_hub):
    bad = OutboxEvent.objects.create(topic="t.bad", args=[1])
    fake_hub.refuse[bad.event_id] = 400
    waits = []
    for _ in range(3):
        delivery.deliver_pending(force=True)
        bad.refresh_from_db()
        waits.append((bad.retry_at - bad.last_attempt).total_seconds())
    assert waits == [2.0, 4.0, 8.0]
    assert bad.attempts == 3


def test_batches_are_limited_by_batch_size(fake_hub, settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "OUTBOX": {"BATCH_SIZE": 2, "SEND_ON_COMMIT": False}}
    for i in range(5):
        publish("t.x", i)
    assert fake_hub.batches == []  # SEND_ON_COMMIT off: only the loop delivers
    assert delivery.deliver_pending().delivered == 5
    assert [len(b) for b in fake_hub.batches] == [2, 2, 1]


def test_failure_after_commit_does_not_reach_the_caller(fake_hub, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(delivery, "deliver_pending", broken)
    row = publish("t.x", 1)  # no exception
    assert OutboxEvent.objects.get(pk=row.pk).is_pending


def test_command_once_delivers_and_reports(fake_hub, settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "OUTBOX": {"SEND_ON_COMMIT": False}}
    publish("t.x", 1)
    publish("t.x", 2)
    call_command("switchboard_outbox", "--once")
    assert fake_hub.topics_args == [("t.x", [1]), ("t.x", [2])]
    assert OutboxEvent.objects.pending().count() == 0


def test_command_once_fails_when_the_hub_is_down(fake_hub, settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "OUTBOX": {"SEND_ON_COMMIT": False}}
    publish("t.x", 1)
    fake_hub.fail_next = 1
    with pytest.raises(CommandError, match="HubUnavailable"):
        call_command("switchboard_outbox", "--once")
    assert OutboxEvent.objects.pending().count() == 1


def test_loop_delivers_until_stopped(fake_hub, settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "OUTBOX": {"SEND_ON_COMMIT": False}}
    publish("t.x", 1)
    stop, rounds = threading.Event(), []

    def on_round(report):
        rounds.append(report)
        stop.set()

    sender.run_loop(stop, interval=0.01, on_round=on_round)
    assert rounds[0].delivered == 1


def test_sender_thread_delivers_after_commit(fake_hub, settings):
    settings.SWITCHBOARD = {
        **settings.SWITCHBOARD,
        "OUTBOX": {"SENDER_THREAD": True, "SEND_ON_COMMIT": False, "INTERVAL": 60},
    }
    delivered = threading.Event()
    original = fake_hub.publish_many

    def publish_many(events):
        result = original(events)
        delivered.set()
        return result

    fake_hub.publish_many = publish_many
    try:
        publish("t.thread", 1)  # wakes the thread, which starts on demand
        assert delivered.wait(10)
        assert fake_hub.topics_args == [("t.thread", [1])]
    finally:
        sender.stop()


def test_purge_keeps_recent_and_pending_events(settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "OUTBOX": {"KEEP_DELIVERED": 3600}}
    now = timezone.now()
    old = OutboxEvent.objects.create(topic="t", delivered_at=now - timedelta(hours=2))
    recent = OutboxEvent.objects.create(topic="t", delivered_at=now - timedelta(minutes=5))
    pending = OutboxEvent.objects.create(topic="t", created=now - timedelta(days=30))
    assert delivery.purge_delivered() == 1
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {recent.pk, pending.pk}
    assert not OutboxEvent.objects.filter(pk=old.pk).exists()


def test_sender_thread_retries_what_could_not_go_after_commit(fake_hub, settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "OUTBOX": {"SENDER_THREAD": True, "INTERVAL": 0.05}}
    delivered = threading.Event()
    original = fake_hub.publish_many

    def publish_many(events):
        result = original(events)
        delivered.set()
        return result

    fake_hub.fail_next = 1  # the hub is down at commit time
    fake_hub.publish_many = publish_many
    try:
        publish("t.retry", 1)
        assert delivered.wait(10)  # the thread, started by the commit, delivered it on a later round
        assert fake_hub.topics_args == [("t.retry", [1])]
    finally:
        sender.stop()


def test_delivery_after_commit_sends_at_most_one_batch_of_backlog(fake_hub, settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "OUTBOX": {"BATCH_SIZE": 3}}
    fake_hub.fail_next = 5
    for i in range(5):
        publish("t.backlog", i)  # the hub is down: five pending
    publish("t.backlog", 5)  # hub back: this commit sends the three oldest, not the whole backlog
    assert fake_hub.topics_args == [("t.backlog", [0]), ("t.backlog", [1]), ("t.backlog", [2])]
    assert delivery.deliver_pending().delivered == 3  # the loop sends the rest, in order
    assert [args for _, args in fake_hub.topics_args] == [[i] for i in range(6)]

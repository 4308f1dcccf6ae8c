"""End to end: the example site on a live Django server, a real hub pointed at it, WAMP clients.

Django publishes through the outbox to the real bridge; the hub calls Django's procedures and
forwards events to it; browsers' tickets come from Django's ticket view.
"""

import json
import queue
import time

import pytest
import urllib3
from autobahn.wamp.exception import ApplicationError
from django.core.management import CommandError, call_command
from django.db import transaction
from notes.models import Note
from switchboard.bridge import tickets
from switchboard.bridge.client import HubClient
from switchboard.bridge.django import publish
from switchboard.bridge.django.models import OutboxEvent
from switchboard.bridge.django.signals import event_received
from switchboard.bridge.signing import sign_request
from switchboard.router.client import Client, JoinError

from tests.django.conftest import wait_for_hub

pytestmark = pytest.mark.django_db(transaction=True)


def ticket_for(client, user) -> dict:
    """What a signed-in page gets from Django's ticket view."""
    client.force_login(user)
    response = client.get("/switchboard/ticket/")
    assert response.status_code == 200
    return response.json()


def join_with(hub, ticket):
    return Client(hub.url, hub.realm, ticket=ticket)


def refused(hub, ticket) -> JoinError:
    with pytest.raises(JoinError) as info:
        join_with(hub, ticket)
    return info.value


# -- Django publishes --------------------------------------------------------------------------


def test_saving_a_model_publishes_to_subscribers(hub_settings):
    with hub_settings.client() as page:  # anonymous, as a browser
        created = page.subscribe("public.notes.created")
        updated = page.subscribe("public.notes.updated")
        deleted = page.subscribe("public.notes.deleted")
        note = Note.objects.create(title="hello", body="world")
        assert created.get().args[0] == {
            "id": note.pk,
            "title": "hello",
            "body": "world",
            "updated": note.updated.isoformat(),
        }
        note.title = "hello again"
        note.save()
        assert updated.get().args[0]["title"] == "hello again"
        pk = note.pk
        note.delete()
        assert deleted.get().args[0]["id"] == pk
    assert OutboxEvent.objects.pending().count() == 0


def test_a_rolled_back_transaction_publishes_nothing(hub_settings):
    with hub_settings.client() as page:
        created = page.subscribe("public.notes.created")
        with pytest.raises(RuntimeError), transaction.atomic():
            Note.objects.create(title="ghost")
            raise RuntimeError("rolled back")
        Note.objects.create(title="real")
        assert created.get().args[0]["title"] == "real"  # the ghost never came before it
    assert list(OutboxEvent.objects.values_list("args", flat=True))[0][0]["title"] == "real"


def test_hub_outage_keeps_events_and_the_command_delivers_each_once_in_order(hub_settings):
    hub = hub_settings
    hub.stop()
    try:
        for i in range(5):
            publish("public.outage", i)  # each commits; delivery after commit fails fast
        with transaction.atomic():
            publish("public.outage", 5)
            publish("public.outage", 6)
    finally:
        hub.start()
    wait_for_hub(hub)
    pending = list(OutboxEvent.objects.pending())
    assert [e.args for e in pending] == [[i] for i in range(7)]
    assert all(e.attempts >= 1 and "HubUnavailable" in e.last_error for e in pending)

    with hub.client() as page:
        events = page.subscribe("public.outage")
        call_command("switchboard_outbox", "--once")
        assert [events.get().args[0] for _ in range(7)] == list(range(7))
        call_command("switchboard_outbox", "--once")  # nothing is sent twice
        publish("public.outage", "sentinel")
        assert events.get().args[0] == "sentinel"
    assert OutboxEvent.objects.pending().count() == 0


def test_a_delivery_whose_answer_was_lost_is_not_published_twice(hub_settings, settings):
    hub = hub_settings
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "OUTBOX": {"SEND_ON_COMMIT": False}}
    for i in range(3):
        publish("public.lost", i)
    with hub.client() as page:
        events = page.subscribe("public.lost")
        # The hub publishes the events, but Django never learns it (answer lost, process killed):
        with HubClient(hub.bridge_url, hub.bridge_key, hub.bridge_secret) as client:
            client.publish_many([e.as_bridge_event() for e in OutboxEvent.objects.pending()])
        assert [events.get().args[0] for _ in range(3)] == [0, 1, 2]
        call_command("switchboard_outbox", "--once")  # sends all three again: the hub drops them by id
        assert OutboxEvent.objects.pending().count() == 0
        publish("public.lost", "sentinel")
        call_command("switchboard_outbox", "--once")
        assert events.get().args[0] == "sentinel"


# -- browser sign-in and private topics --------------------------------------------------------


def test_ticket_from_the_view_signs_in_to_the_hub(hub_settings, client, django_user_model):
    user = django_user_model.objects.create_user("ann", password="pw")
    answer = ticket_for(client, user)
    with join_with(hub_settings, answer["ticket"]) as session:
        assert (session.details.authid, session.details.authrole) == (str(user.pk), "user")
    client.logout()
    assert client.get("/switchboard/ticket/").json() == {"ticket": None}


def test_expired_forged_and_replayed_tickets_are_refused(hub_settings, client, django_user_model):
    hub = hub_settings
    user = django_user_model.objects.create_user("ann", password="pw")
    expired = tickets.mint(hub.ticket_secret, str(user.pk), ttl=30, now=time.time() - 120)
    assert refused(hub, expired).reason == "switchboard.error.ticket_expired"
    forged = tickets.mint("not-the-ticket-secret-but-as-long-as-one", str(user.pk))
    assert refused(hub, forged).reason == "switchboard.error.ticket_invalid"
    answer = ticket_for(client, user)
    join_with(hub, answer["ticket"]).close()
    assert refused(hub, answer["ticket"]).reason == "switchboard.error.ticket_replayed"


def test_users_receive_only_their_own_private_events(hub_settings, client, django_user_model):
    hub = hub_settings
    ann = django_user_model.objects.create_user("ann", password="pw")
    bob = django_user_model.objects.create_user("bob", password="pw")
    ann_ticket, bob_ticket = ticket_for(client, ann)["ticket"], ticket_for(client, bob)["ticket"]
    with join_with(hub, ann_ticket) as ann_page, join_with(hub, bob_ticket) as bob_page:
        with pytest.raises(ApplicationError) as info:
            ann_page.subscribe(f"user.{bob.pk}.notifications")
        assert info.value.error == "wamp.error.not_authorized"
        ann_inbox = ann_page.subscribe(f"user.{ann.pk}.notifications")
        bob_inbox = bob_page.subscribe(f"user.{bob.pk}.notifications")
        Note.objects.create(title="bob's", owner=bob)  # Django notifies the owner
        publish(f"user.{ann.pk}.notifications", {"text": "for ann"})
        assert ann_inbox.get().args[0] == {"text": "for ann"}  # bob's came first, and not to ann
        assert "bob's" in bob_inbox.get().args[0]["text"]


# -- WAMP into Django --------------------------------------------------------------------------


def test_a_forwarded_topic_reaches_the_django_signal(hub_settings):
    received = queue.Queue()

    def receiver(sender, **kwargs):
        received.put(kwargs)

    event_received.connect(receiver, weak=False, dispatch_uid="e2e")
    try:
        with hub_settings.client() as page:
            page.publish("django.events.e2e", 1, "two", flag=True)
            event = received.get(timeout=10)
    finally:
        event_received.disconnect(dispatch_uid="e2e")
    assert (event["topic"], event["args"], event["kwargs"]) == ("django.events.e2e", [1, "two"], {"flag": True})
    assert event["publisher"]["session"] == page.session_id
    assert event["publisher"]["authrole"] == "anonymous"


def test_a_ping_from_a_signed_in_page_is_answered_privately(hub_settings, client, django_user_model):
    user = django_user_model.objects.create_user("ann", password="pw")
    with join_with(hub_settings, ticket_for(client, user)["ticket"]) as page:
        inbox = page.subscribe(f"user.{user.pk}.notifications")
        page.publish("django.events.ping", {})
        assert inbox.get().args[0] == {"text": "Django got your ping."}


def test_django_procedure_over_wamp_sees_the_caller(hub_settings, client, django_user_model):
    hub = hub_settings
    with hub.client() as anonymous:
        result = anonymous.call("django.greet", "Ann")
        assert result["text"] == "Hello Ann, from Django! You are anonymous."
        assert result["authrole"] == "anonymous"
    user = django_user_model.objects.create_user("ann", password="pw")
    with join_with(hub, ticket_for(client, user)["ticket"]) as page:
        result = page.call("django.greet", name="Ann")
        assert (result["authid"], result["authrole"], result["username"]) == (str(user.pk), "user", "ann")
        notes = page.call("django.notes.list")
        assert notes == []


def test_rpc_error_becomes_the_wamp_error(hub_settings):
    with hub_settings.client() as page:
        with pytest.raises(ApplicationError) as info:
            page.call("django.greet", "x" * 60)
        assert info.value.error == "notes.error.invalid_name"
        assert info.value.args == ("a name has at most 50 characters",)
        assert info.value.kwargs == {"length": 60}
        with pytest.raises(ApplicationError) as info:
            page.call("django.no_such_thing")
        assert info.value.error == "wamp.error.no_such_procedure"


@pytest.mark.parametrize("path", ["/switchboard/events/", "/switchboard/rpc/greet/"])
def test_requests_with_a_bad_signature_are_refused(live_server, settings, path):
    body = json.dumps({"topic": "django.events.x", "args": ["Ann"]}).encode()
    http = urllib3.PoolManager()
    cfg = settings.SWITCHBOARD
    unsigned = http.request("POST", live_server.url + path, body=body, headers={"Content-Type": "application/json"})
    headers = {"Content-Type": "application/json", **sign_request(cfg["KEY"], "a-guessed-secret", "POST", path, body)}
    forged = http.request("POST", live_server.url + path, body=body, headers=headers)
    assert (unsigned.status, forged.status) == (401, 401)
    assert json.loads(unsigned.data)["reason"] == "unsigned"
    assert json.loads(forged.data)["reason"] == "bad_signature"


def test_switchboard_status_says_ok_and_what_the_outbox_holds(hub_settings, capsys):
    with transaction.atomic():
        OutboxEvent.objects.create(topic="public.status", args=["held"])  # a row, not yet delivered
    call_command("switchboard_status")
    out = capsys.readouterr().out
    assert f"hub {hub_settings.bridge_url} (key {hub_settings.bridge_key!r}): ok" in out
    assert "outbox 1 pending, the oldest" in out


def test_switchboard_status_names_a_refused_signature(hub_settings, settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "SECRET": "not the hub's"}
    with pytest.raises(CommandError, match=r"refused this project's signature \(bad_signature\)"):
        call_command("switchboard_status")


def test_switchboard_status_names_an_unreachable_hub(hub_settings, settings):
    from switchboard.router.node.process import free_port

    url = f"http://127.0.0.1:{free_port()}/bridge/"
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "URL": url}
    with pytest.raises(CommandError, match=f"the hub at {url} is unreachable"):
        call_command("switchboard_status")

"""The outbox in the admin: list, filters, and the "deliver now" action."""

import pytest
from django.urls import reverse
from django.utils import timezone
from switchboard.bridge.django.models import OutboxEvent

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = reverse("admin:switchboard_outboxevent_changelist")


@pytest.fixture
def events():
    now = timezone.now()
    return {
        "delivered": OutboxEvent.objects.create(topic="t.done", delivered_at=now, attempts=1),
        "pending": OutboxEvent.objects.create(topic="t.wait"),
        "failing": OutboxEvent.objects.create(topic="t.fail", attempts=3, last_error="HubUnavailable: down"),
    }


def test_changelist_shows_state_attempts_and_error(admin_client, events):
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert "HubUnavailable: down" in html and "t.done" in html and "pending" in html


@pytest.mark.parametrize(
    "state, topics",
    [
        ("pending", {"t.wait", "t.fail"}),
        ("failing", {"t.fail"}),
        ("delivered", {"t.done"}),
    ],
)
def test_state_filter(admin_client, events, state, topics):
    response = admin_client.get(CHANGELIST, {"state": state})
    assert {e.topic for e in response.context["cl"].result_list} == topics


def test_deliver_now_action(admin_client, events, fake_hub):
    response = admin_client.post(
        CHANGELIST, {"action": "deliver_now", "_selected_action": [events["failing"].pk]}, follow=True
    )
    assert response.status_code == 200
    assert "Outbox: delivered 1, refused 0." in response.content.decode()
    assert [e["topic"] for e in fake_hub.published] == ["t.fail"]  # only the selected event's topic
    assert OutboxEvent.objects.get(pk=events["failing"].pk).delivered_at is not None
    assert OutboxEvent.objects.get(pk=events["pending"].pk).delivered_at is None


def test_events_cannot_be_added_or_edited(admin_client, events):
    assert admin_client.get(reverse("admin:switchboard_outboxevent_add")).status_code == 403
    change = reverse("admin:switchboard_outboxevent_change", args=[events["pending"].pk])
    response = admin_client.get(change)
    assert response.status_code == 200 and b'name="_save"' not in response.content

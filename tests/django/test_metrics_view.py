"""The outbox's metrics view (switchboard.bridge.django.views.metrics): Prometheus text with the
pending count, the oldest pending event's age and the refused count; for staff users and for a
scraper with the configured bearer token, nobody else."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from switchboard.bridge.django.models import OutboxEvent

pytestmark = pytest.mark.django_db(transaction=True)

METRICS = "/switchboard/metrics/"
TOKEN = "metrics-token-for-tests"


@pytest.fixture
def outbox():
    now = timezone.now()
    OutboxEvent.objects.create(topic="t.done", delivered_at=now, attempts=1)
    old = OutboxEvent.objects.create(topic="t.old")
    OutboxEvent.objects.filter(pk=old.pk).update(created=now - timedelta(seconds=120))
    OutboxEvent.objects.create(topic="t.refused", attempts=2, retry_at=now + timedelta(seconds=30))


def samples(response) -> dict[str, float]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    families = text_string_to_metric_families(response.content.decode())
    return {s.name: s.value for family in families for s in family.samples}


def test_staff_see_pending_oldest_age_and_refused(admin_client, outbox):
    found = samples(admin_client.get(METRICS))
    assert found["switchboard_outbox_pending"] == 2
    assert found["switchboard_outbox_refused"] == 1
    assert 119 <= found["switchboard_outbox_oldest_pending_age_seconds"] < 600


def test_a_scraper_needs_the_bearer_token(client, settings, outbox):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "METRICS_TOKEN": TOKEN}
    assert samples(client.get(METRICS, HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))["switchboard_outbox_pending"] == 2
    for header in ("", "Bearer wrong", f"Basic {TOKEN}"):
        response = client.get(METRICS, HTTP_AUTHORIZATION=header)
        assert response.status_code == 403 and response.json()["error"] == "wamp.error.not_authorized"


def test_without_a_token_set_only_staff_get_in(client):
    assert client.get(METRICS, HTTP_AUTHORIZATION="Bearer ").status_code == 403
    assert client.get(METRICS).status_code == 403


def test_an_empty_outbox_reads_zero(admin_client):
    found = samples(admin_client.get(METRICS))
    assert found["switchboard_outbox_pending"] == 0 and found["switchboard_outbox_oldest_pending_age_seconds"] == 0

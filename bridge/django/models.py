"""The transactional outbox: every published event is first a row, written in the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


def new_event_id() -> str:
    return uuid.uuid4().hex


class OutboxEventQuerySet(models.QuerySet):
    def pending(self) -> "OutboxEventQuerySet":
        return self.filter(delivered_at__isnull=True)

    def delivered(self) -> "OutboxEventQuerySet":
        return self.filter(delivered_at__isnull=False)

    def state(self, now) -> "OutboxState":
        """What the outbox holds at `now`: for manage.py switchboard_status and the metrics view."""
        pending = self.pending()
        oldest = pending.order_by("created").values_list("created", flat=True).first()
        return OutboxState(
            pending=pending.count(),
            oldest_age=(now - oldest).total_seconds() if oldest else None,
            refused=pending.filter(retry_at__isnull=False).count(),
        )


@dataclass(frozen=True)
class OutboxState:
    pending: int
    #: seconds since the oldest pending event was created; None when nothing is pending
    oldest_age: float | None
    #: pending events the hub refused, waiting to be offered again
    refused: int


class OutboxEvent(models.Model):
    """One event for the hub. Pending while `delivered_at` is empty; delivered in id order per topic.

    `event_id` goes to the hub with the event, so a delivery repeated after a lost answer is
    recognised there and not published twice.
    """

    event_id = models.CharField(
        max_length=128, default=new_event_id, db_index=True, help_text="Sent to the hub, which publishes each id once."
    )
    topic = models.CharField(max_length=255)
    args = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)
    kwargs = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    options = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_attempt = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    retry_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the hub refused the event: not offered again before."
    )
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = OutboxEventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = "outbox event"
        indexes = [
            models.Index(fields=["delivered_at", "topic", "id"], name="switchboard_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk}"

    @property
    def is_pending(self) -> bool:
        return self.delivered_at is None

    def as_bridge_event(self) -> dict:
        """The event as the bridge's batch endpoint takes it."""
        event = {"topic": self.topic, "args": self.args, "kwargs": self.kwargs, "id": self.event_id}
        if self.options:
            event["options"] = self.options
        return event

"""Deliver pending outbox events to the hub: in id order per topic, each event once.

Order: an event is sent only after every older pending event of its topic was confirmed, or
earlier in the same ordered batch (the hub publishes a batch in order and stops at the first
refusal). An event the hub refuses (bad request, not authorized) therefore holds back the rest of
its topic: it is offered again after a growing wait, or fix it (or delete it) in the admin.
Other topics go on.

Once: every event carries its `event_id`; a batch sent again after a lost answer is recognised by
the hub, which publishes each id once (within its de-duplication window, in the router's memory).
Trouble that is not about one event (hub down, 503, timeouts, a refused signature) stops the run;
everything stays pending, in order, for the next one.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Iterable

from django.db import DEFAULT_DB_ALIAS
from django.db.models import F
from django.utils import timezone
from switchboard.bridge.django.conf import switchboard
from switchboard.bridge.django.models import OutboxEvent
from switchboard.bridge.errors import BadRequest, SwitchboardError
from switchboard.bridge.retry import backoff

log = logging.getLogger("switchboard.bridge.django.delivery")

#: Answers that refuse one event (it would be refused again as it is); anything else stops the run.
REFUSAL_STATUSES = frozenset({400, 403, 413, 422})
MAX_ERROR_LENGTH = 2000
#: seconds before an event the hub refused is offered again the first time; doubling up to MAX_BACKOFF
REFUSED_FIRST_WAIT = 2.0


@dataclass
class Report:
    """What one delivery run did. `error` says why it stopped early (events stay pending)."""

    delivered: int = 0
    refused: int = 0
    error: str | None = None
    refused_topics: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return self.error is None

    def __str__(self) -> str:
        text = f"delivered {self.delivered}, refused {self.refused}"
        return text + (f", stopped: {self.error}" if self.error else "")


_clients: dict[tuple, Any] = {}
_clients_lock = threading.Lock()


def make_client(*, immediate: bool = False) -> Any:
    """A HubClient from the settings; right after a commit it gives up fast (the loop retries later).

    One client per distinct settings, shared by the process's threads (HubClient is thread-safe), so
    its keep-alive connections are reused from one commit to the next.
    """
    from switchboard.bridge.client import HubClient

    cfg = switchboard()
    timeout, retries = (cfg.outbox.on_commit_timeout, 0) if immediate else (cfg.timeout, min(cfg.retries, 1))
    key = (cfg.url, cfg.key, cfg.secret, timeout, retries)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = HubClient(cfg.url, cfg.key, cfg.secret, timeout=timeout, retries=retries)
        return client


def refuses_event(error: BaseException) -> bool:
    """Whether `error` refuses an event itself (rather than saying the hub cannot take anything now)."""
    if isinstance(error, (TypeError, ValueError)):
        return True  # the client's own checks of one event
    if isinstance(error, BadRequest) and error.status is None:
        return True
    return isinstance(error, SwitchboardError) and error.status in REFUSAL_STATUSES


def _pending(using: str, topics: Iterable[str] | None):
    rows = OutboxEvent.objects.using(using).pending()
    return rows if topics is None else rows.filter(topic__in=list(topics))


def _next_batch(
    using: str, topics: Iterable[str] | None, blocked: set[str], size: int, force: bool
) -> list[OutboxEvent]:
    rows = _pending(using, topics)
    if not force:
        # A topic whose refused event waits for its retry time waits as a whole.
        blocked |= set(rows.filter(retry_at__gt=timezone.now()).values_list("topic", flat=True).distinct())
    if blocked:
        rows = rows.exclude(topic__in=blocked)
    return list(rows.order_by("id")[:size])


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:MAX_ERROR_LENGTH]


def _mark_delivered(using: str, events: list[OutboxEvent]) -> None:
    if events:
        now = timezone.now()
        OutboxEvent.objects.using(using).filter(pk__in=[e.pk for e in events], delivered_at__isnull=True).update(
            delivered_at=now, last_attempt=now, attempts=F("attempts") + 1, last_error="", retry_at=None
        )


def _mark_failed(using: str, events: list[OutboxEvent], error: BaseException) -> None:
    if events:
        OutboxEvent.objects.using(using).filter(pk__in=[e.pk for e in events], delivered_at__isnull=True).update(
            last_attempt=timezone.now(), attempts=F("attempts") + 1, last_error=_error_text(error)
        )


def _mark_refused(using: str, event: OutboxEvent, error: BaseException, max_backoff: float) -> None:
    now = timezone.now()
    wait = backoff(event.attempts, REFUSED_FIRST_WAIT, max_backoff)
    OutboxEvent.objects.using(using).filter(pk=event.pk, delivered_at__isnull=True).update(
        last_attempt=now,
        attempts=F("attempts") + 1,
        last_error=_error_text(error),
        retry_at=now + timedelta(seconds=wait),
    )


def deliver_pending(
    *,
    topics: Iterable[str] | None = None,
    using: str = DEFAULT_DB_ALIAS,
    immediate: bool = False,
    force: bool = False,
    limit: int | None = None,
    client: Any = None,
) -> Report:
    """Send pending events (of `topics`, or all) until none is left, the hub fails, or `limit` were handled.

    `force` offers refused events again without waiting for their retry time (the admin's
    "deliver now"). `client` defaults to a HubClient from the settings.
    """
    cfg = switchboard().outbox
    topics = None if topics is None else sorted(set(topics))
    report, blocked = Report(), set()
    client = make_client(immediate=immediate) if client is None else client
    singles = 0  # after a refusal of unknown position, events go one by one to find the refused one
    while limit is None or report.delivered + report.refused < limit:
        size = 1 if singles else cfg.batch_size
        if limit is not None:
            size = min(size, limit - report.delivered - report.refused)
        batch = _next_batch(using, topics, blocked, size, force)
        if not batch:
            break
        singles = max(0, singles - 1)
        try:
            client.publish_many([event.as_bridge_event() for event in batch])
        except (SwitchboardError, TypeError, ValueError) as error:
            published = batch[: len(getattr(error, "results", None) or [])]
            _mark_delivered(using, published)
            report.delivered += len(published)
            if not refuses_event(error):
                _mark_failed(using, batch[len(published) :], error)
                report.error = _error_text(error)
                log.warning("outbox delivery stopped, %d event(s) stay pending: %s", len(batch) - len(published), error)
                break
            index = getattr(error, "index", None)
            if index is None or not 0 <= index < len(batch):
                if len(batch) > 1:
                    singles = len(batch)
                    continue
                index = 0
            refused = batch[index]
            _mark_refused(using, refused, error, cfg.max_backoff)
            blocked.add(refused.topic)
            report.refused += 1
            report.refused_topics.add(refused.topic)
            singles = 0
            log.error(
                "the hub refused outbox event %s (%s, id %s); later events of %r wait for it: %s",
                refused.pk,
                refused.topic,
                refused.event_id,
                refused.topic,
                error,
            )
            continue
        _mark_delivered(using, batch)
        report.delivered += len(batch)
    return report


def purge_delivered(using: str = DEFAULT_DB_ALIAS) -> int:
    """Delete delivered events older than OUTBOX["KEEP_DELIVERED"] seconds; returns how many."""
    keep = switchboard().outbox.keep_delivered
    if keep is None:
        return 0
    cutoff = timezone.now() - timedelta(seconds=keep)
    deleted, _ = OutboxEvent.objects.using(using).filter(delivered_at__lt=cutoff).delete()
    return deleted

"""publish(): write the event to the outbox in the current transaction, deliver it after commit.

A rolled-back transaction leaves no row, so it publishes nothing; a committed one leaves a row that
stays until the hub has taken the event, so nothing is lost when the hub (or Django) is down.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Iterable, Mapping

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, transaction
from switchboard.bridge import protocol
from switchboard.bridge.django.conf import switchboard
from switchboard.bridge.django.models import OutboxEvent, new_event_id

log = logging.getLogger("switchboard.bridge.django.outbox")

#: Largest event (JSON bytes) the outbox takes: a batch of one must fit the hub's 1 MiB body limit.
MAX_EVENT_BYTES = protocol.MAX_BODY - 1024
MAX_TOPIC_LENGTH = OutboxEvent._meta.get_field("topic").max_length


def _checked(
    topic: str,
    args: Iterable[Any],
    kwargs: Mapping[str, Any] | None,
    event_id: str | None,
    options: Mapping[str, Any] | None,
) -> dict:
    """The event as JSON-ready data; ValueError/TypeError now rather than a refusal by the hub later.

    An event the hub refuses would hold back every later event of its topic, so it is refused here.
    """
    if isinstance(topic, str) and len(topic) > MAX_TOPIC_LENGTH:
        raise ValueError(f"topic is {len(topic)} characters; the outbox takes at most {MAX_TOPIC_LENGTH}")
    if isinstance(args, (str, bytes, Mapping)) or not isinstance(args, Iterable):
        raise TypeError(f"args must be a list or tuple, not {type(args).__name__}")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise TypeError(f"kwargs must be a dict, not {type(kwargs).__name__}")
    try:
        # DjangoJSONEncoder turns datetimes, dates, Decimals and UUIDs into strings, as the row stores them.
        text = json.dumps({"args": list(args), "kwargs": dict(kwargs or {})}, cls=DjangoJSONEncoder, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"event for {topic!r} is not JSON-serialisable: {e}") from None
    payload = json.loads(text)
    event = {"topic": topic, **payload, "options": dict(options or {})}
    if event_id is not None:
        event["id"] = event_id
    try:
        protocol.parse_publish(event)
    except protocol.BadRequest as e:
        raise ValueError(f"cannot publish: {e}") from None
    if len(text.encode("utf-8")) > MAX_EVENT_BYTES:
        raise ValueError(
            f"event for {topic!r} is {len(text.encode('utf-8')):,} bytes of JSON; "
            f"the hub takes at most {MAX_EVENT_BYTES:,}"
        )
    return event


def publish_event(
    topic: str,
    args: Iterable[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    id: str | None = None,
    options: Mapping[str, Any] | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> OutboxEvent:
    """Queue one event in the outbox (inside the current transaction, if any) and return its row.

    `id` (1-128 characters, default a fresh UUID) is what the hub de-duplicates on; `options` are
    the bridge's publish options (`retain`, `exclude_authid`, `eligible_authid`).
    """
    event = _checked(topic, args, kwargs, id, options)
    row = OutboxEvent.objects.using(using).create(
        event_id=event.get("id") or new_event_id(),
        topic=topic,
        args=event["args"],
        kwargs=event["kwargs"],
        options=event["options"],
    )
    transaction.on_commit(_AfterCommit(topic, using), using=using, robust=True)
    return row


def publish(topic: str, *args: Any, **kwargs: Any) -> OutboxEvent:
    """Queue an event with positional and keyword arguments (the event's payload) in the outbox."""
    return publish_event(topic, args, kwargs)


class _AfterCommit:
    """Runs once the transaction that wrote the event has committed: deliver now, or wake the sender thread."""

    def __init__(self, topic: str, using: str):
        self.topic, self.using = topic, using

    def __call__(self) -> None:
        outbox = switchboard().outbox
        if outbox.send_on_commit:
            from switchboard.bridge.django import delivery

            try:
                # The topic's older pending events go first, so a fresh event never overtakes them;
                # one batch at most, so a backlog (after an outage) never holds up the request.
                delivery.deliver_pending(topics=[self.topic], using=self.using, immediate=True, limit=outbox.batch_size)
            except Exception:  # the event is safe in the outbox; the delivery loop retries it
                log.exception("delivering %s after commit failed; it stays in the outbox", self.topic)
        if outbox.sender_thread:
            from switchboard.bridge.django import sender

            if outbox.send_on_commit:
                sender.ensure_started()  # retries, at its interval, what could not go now
            else:
                sender.wake()  # it sends everything: requests never wait for the hub

"""The scenarios: what one load-generator process does, and who receives the events."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    name: str
    system: str  # "switchboard" or "channels"
    label: str  # row title in the table
    unit: str  # what one timed call does: "event", "batch", "transaction"
    core: bool  # part of the core comparison (a failure fails the benchmark); else a reference row
    receiver: str  # "wamp" or "channels"
    layer: str | None = None  # channels backend
    description: str = ""


REDIS_LAYER = "channels_redis.core.RedisChannelLayer"
PUBSUB_LAYER = "channels_redis.pubsub.RedisPubSubChannelLayer"

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "sb_publish",
            "switchboard",
            "Switchboard `HubClient.publish`, sequential",
            "event",
            True,
            "wamp",
            description="one signed POST /bridge/publish per event on one keep-alive connection; each returns "
            "after the router acknowledged the publish",
        ),
        Scenario(
            "sb_publish_many",
            "switchboard",
            "Switchboard `HubClient.publish_many`, {batch} per request",
            "batch",
            True,
            "wamp",
            description="one signed POST /bridge/batch per {batch} events; the hub publishes them in order, "
            "each acknowledged by the router",
        ),
        Scenario(
            "sb_outbox",
            "switchboard",
            "Switchboard `switchboard.bridge.django.publish` (outbox, one transaction per event)",
            "transaction",
            False,
            "wamp",
            description="`with transaction.atomic(): switchboard.bridge.django.publish(...)`: an outbox row in "
            "SQLite, "
            "delivered on commit (default settings: a fresh HubClient per delivery, no retries)",
        ),
        Scenario(
            "ch_group_send",
            "channels",
            "Channels `async_to_sync(group_send)`, sequential",
            "event",
            True,
            "channels",
            REDIS_LAYER,
            description="`async_to_sync(channel_layer.group_send)(group, message)` per event, RedisChannelLayer, "
            "one group member",
        ),
        Scenario(
            "ch_group_send_chunked",
            "channels",
            "Channels, {batch} awaited `group_send`s per `async_to_sync` call (not an API: no batch exists)",
            "batch",
            False,
            "channels",
            REDIS_LAYER,
            description="reference: one `async_to_sync` call running an async function that awaits {batch} "
            "`group_send`s in a row; what an async caller (a consumer) pays per event",
        ),
        Scenario(
            "ch_pubsub_group_send",
            "channels",
            "Channels `async_to_sync(group_send)`, RedisPubSubChannelLayer",
            "event",
            False,
            "channels",
            PUBSUB_LAYER,
            description="reference: the same as the sequential row with channels_redis' Pub/Sub layer",
        ),
    )
}


def label(scenario: Scenario, batch_size: int) -> str:
    return scenario.label.replace("{batch}", str(batch_size))


def describe(scenario: Scenario, batch_size: int) -> str:
    return scenario.description.replace("{batch}", str(batch_size))


def payload(seq: int, phase: str, size: int) -> dict:
    """The event's data: {"seq", "phase", "pad"}, exactly `size` bytes as compact JSON."""
    data = {"seq": seq, "phase": phase, "pad": ""}
    used = len(json.dumps(data, separators=(",", ":")))
    data["pad"] = "x" * max(0, size - used)
    return data

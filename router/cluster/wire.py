"""What the nodes of a cluster say to each other through Redis: pure, no I/O.

Every name a node uses in Redis is made here, under one prefix per realm, so several hubs (or
realms) can share one Redis. A relayed event is the part of a PUBLISH the other nodes need to
deliver it as the origin node did: the topic, the payload, the publication id (the same on every
node, so history recovery by publication works whichever node a client reconnects to), the
publisher when the origin disclosed it, `retain`, and the receiver filters. Events travel in
batches, one Redis message per batch, in the order the origin's broker dispatched them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgpack

#: the prefix of every key and channel of one hub's realm
PREFIX = "switchboard"
#: receiver filters of a PUBLISH that are relayed as they are (session ids are cluster-wide: each
#: node draws them at random from 2**53)
FILTERS = ("exclude", "exclude_authid", "exclude_authrole", "eligible", "eligible_authid", "eligible_authrole")


class WireError(ValueError):
    """A message on the cluster's channel that is not a batch this version writes."""


def events_channel(realm: str) -> str:
    """The pub/sub channel every node of `realm` publishes its batches on and listens to."""
    return f"{PREFIX}:{realm}:events"


def retained_key(realm: str) -> str:
    """The hash of the last retained event of each topic (topic -> encoded event)."""
    return f"{PREFIX}:{realm}:retained"


def key(realm: str, *parts: str) -> str:
    """Any other key of `realm`'s cluster state (history, presence, replay memory)."""
    return ":".join((PREFIX, realm, *parts))


def history_prefix(realm: str) -> str:
    """What every key of `realm`'s event history starts with (router/cluster/history_lua.py lays them out)."""
    return key(realm, "history", "")


@dataclass
class RelayedEvent:
    topic: str
    publication: int
    args: list | None = None
    kwargs: dict | None = None
    #: (session, authid, authrole) when the origin disclosed the publisher, else None
    publisher: tuple | None = None
    retain: bool = False
    filters: dict = field(default_factory=dict)

    def as_item(self) -> dict:
        item = {"t": self.topic, "p": self.publication}
        if self.args:
            item["a"] = list(self.args)
        if self.kwargs:
            item["k"] = self.kwargs
        if self.publisher is not None:
            item["s"] = list(self.publisher)
        if self.retain:
            item["r"] = True
        if self.filters:
            item["f"] = self.filters
        return item

    @classmethod
    def from_item(cls, item) -> "RelayedEvent":
        if not isinstance(item, dict):
            raise WireError("an event is not a map")
        topic, publication = item.get("t"), item.get("p")
        if not isinstance(topic, str) or type(publication) is not int:
            raise WireError("an event has no topic or publication id")
        args, kwargs, publisher = item.get("a"), item.get("k"), item.get("s")
        if args is not None and not isinstance(args, list):
            raise WireError("an event's args are not a list")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise WireError("an event's kwargs are not a map")
        if publisher is not None and (not isinstance(publisher, list) or len(publisher) != 3):
            raise WireError("an event's publisher is not (session, authid, authrole)")
        filters = item.get("f") or {}
        if not isinstance(filters, dict) or not set(filters) <= set(FILTERS):
            raise WireError("an event's filters are not known")
        return cls(
            topic, publication, args, kwargs, tuple(publisher) if publisher else None, bool(item.get("r")), filters
        )


def encode_item(item: dict) -> bytes:
    """One event (a RelayedEvent.as_item map) on its own, as the retained hash keeps it."""
    return msgpack.packb(item, use_bin_type=True)


def decode_event(data: bytes) -> RelayedEvent:
    try:
        item = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as e:
        raise WireError(f"not msgpack: {e}") from None
    return RelayedEvent.from_item(item)


def encode_batch(node: str, items: list[dict]) -> bytes:
    """One message for the channel: the origin node's id and its events (as_item maps), in order."""
    return msgpack.packb([node, items], use_bin_type=True)


def decode_batch(data: bytes) -> tuple[str, list[RelayedEvent]]:
    try:
        node, items = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as e:
        raise WireError(f"not a batch: {e}") from None
    if not isinstance(node, str) or not isinstance(items, list):
        raise WireError("a batch is not [node, events]")
    return node, [RelayedEvent.from_item(item) for item in items]

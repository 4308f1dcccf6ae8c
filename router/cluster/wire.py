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


def unpack(data: bytes):
    """What another node wrote (msgpack), else WireError: every decoder below starts here."""
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as e:
        raise WireError(f"not msgpack: {e}") from None


def events_channel(realm: str) -> str:
    """The pub/sub channel every node of `realm` publishes its batches on and listens to."""
    return f"{PREFIX}:{realm}:events"


def retained_key(realm: str) -> str:
    """The hash of the last retained event of each topic (topic -> encoded event)."""
    return f"{PREFIX}:{realm}:retained"


def presence_prefix(realm: str) -> str:
    """What every presence key of `realm` starts with (the layout below it: components/presence_store.py)."""
    return key(realm, "presence", "")


def key(realm: str, *parts: str) -> str:
    """Any other key of `realm`'s cluster state (history, presence, replay memory)."""
    return ":".join((PREFIX, realm, *parts))


def replay_key(realm: str, kind: str, seen: str) -> str:
    """A ticket id, bridge nonce or event id (`seen`) the cluster has accepted; `kind` is one of the
    replay store's kinds (router/services/replay_store.py). Kept until its window ends (SET NX PX,
    router/cluster/claims.py)."""
    return key(realm, "replay", kind, seen)


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
    item = unpack(data)
    return RelayedEvent.from_item(item)


def encode_batch(node: str, items: list[dict]) -> bytes:
    """One message for the channel: the origin node's id and its events (as_item maps), in order."""
    return msgpack.packb([node, items], use_bin_type=True)


def join_batch(node: str, encoded: list[bytes]) -> bytes:
    """encode_batch(node, items), from the items already encoded one by one (encode_item): the outbox
    sizes its batches by their bytes. msgpack: a 2-array of the node and an array of the items."""
    n = len(encoded)
    if n < 16:
        header = bytes((0x90 | n,))
    elif n < 2**16:
        header = b"\xdc" + n.to_bytes(2, "big")
    else:
        header = b"\xdd" + n.to_bytes(4, "big")
    return b"\x92" + msgpack.packb(node, use_bin_type=True) + header + b"".join(encoded)


def decode_batch(data: bytes) -> tuple[str, list[RelayedEvent]]:
    found = unpack(data)
    if not isinstance(found, list) or len(found) != 2:
        raise WireError("a batch is not [node, events]")
    node, items = found
    if not isinstance(node, str) or not isinstance(items, list):
        raise WireError("a batch is not [node, events]")
    return node, [RelayedEvent.from_item(item) for item in items]


# --- calls to procedures registered on another node -------------------------------------------
#: the matches a registration can have, as Crossbar names them
MATCHES = ("exact", "prefix", "wildcard")


def calls_channel(realm: str, node: str) -> str:
    """Where `node` takes calls forwarded to it, and their cancels."""
    return key(realm, "calls", node)


def replies_channel(realm: str, node: str) -> str:
    """Where `node` takes the answers to the calls it forwarded."""
    return key(realm, "replies", node)


def procedures_key(realm: str, node: str) -> str:
    """`node`'s registrations ([uri, match] pairs), with a time to live its node keeps renewing."""
    return key(realm, "procedures", node)


def nodes_key(realm: str) -> str:
    """The set of nodes that have written their registrations (a member whose key expired is gone)."""
    return key(realm, "nodes")


def procedures_channel(realm: str) -> str:
    """Where a node says its registrations changed, so the others read them at once."""
    return key(realm, "procedures-changed")


def encode_procedures(procedures: list[tuple[str, str]]) -> bytes:
    return msgpack.packb(sorted(procedures), use_bin_type=True)


def decode_procedures(data: bytes) -> list[tuple[str, str]]:
    found = unpack(data)
    if not isinstance(found, list) or not all(
        isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and p[1] in MATCHES for p in found
    ):
        raise WireError("registrations are not [uri, match] pairs")
    return [(uri, match) for uri, match in found]


#: a CANCEL's modes, as Crossbar's dealer takes them (None: the caller named none)
CANCEL_MODES = (None, "skip", "kill", "killnowait")


@dataclass
class ForwardedCall:
    """A CALL a node forwards to the node that has the procedure, with its caller's identity (the
    callee's node authorizes it again, and discloses it as its own config says)."""

    id: int
    origin: str
    procedure: str
    caller: tuple  # (session, authid, authrole)
    args: list | None = None
    kwargs: dict | None = None
    #: milliseconds the callee's node gives the call (0: none)
    timeout: int = 0
    #: the caller asked for progressive results (CALL's receive_progress)
    progress: bool = False

    def encode(self) -> bytes:
        m = {"i": self.id, "o": self.origin, "u": self.procedure, "c": list(self.caller), "a": self.args,
             "k": self.kwargs, "t": self.timeout}  # fmt: skip
        if self.progress:  # absent otherwise: what a node before progressive results wrote
            m["p"] = True
        return msgpack.packb(m, use_bin_type=True)

    @classmethod
    def decode(cls, data: bytes) -> "ForwardedCall":
        return cls.from_map(unpack(data))

    @classmethod
    def from_map(cls, m) -> "ForwardedCall":
        if not isinstance(m, dict):
            raise WireError("a forwarded call is not a map")
        ok = (
            type(m.get("i")) is int
            and isinstance(m.get("o"), str)
            and isinstance(m.get("u"), str)
            and isinstance(m.get("c"), list)
            and len(m["c"]) == 3
            and isinstance(m.get("a"), (list, type(None)))
            and isinstance(m.get("k"), (dict, type(None)))
            and type(m.get("t", 0)) is int
            and type(m.get("p", False)) is bool
        )
        if not ok:
            raise WireError("a forwarded call lacks its id, origin, procedure or caller")
        return cls(m["i"], m["o"], m["u"], tuple(m["c"]), m["a"], m["k"], m.get("t", 0), m.get("p", False))


@dataclass
class CancelCall:
    """A caller's CANCEL of a call its node forwarded (same id, same channel as the call, after it):
    the callee's node cancels the call its caller's stand-in made there, in the caller's mode."""

    id: int
    origin: str
    #: the caller's session id: with `id`, how the callee's dealer knows the call
    session: int
    mode: str | None = None

    def encode(self) -> bytes:
        return msgpack.packb({"i": self.id, "o": self.origin, "s": self.session, "x": self.mode}, use_bin_type=True)

    @classmethod
    def decode(cls, data: bytes) -> "CancelCall":
        return _cancel_from(unpack(data))


def _cancel_from(m) -> CancelCall:
    if (
        not isinstance(m, dict)
        or type(m.get("i")) is not int
        or not isinstance(m.get("o"), str)
        or type(m.get("s")) is not int
        or m.get("x") not in CANCEL_MODES
    ):
        raise WireError("a cancel is not {id, origin, session, mode}")
    return CancelCall(m["i"], m["o"], m["s"], m["x"])


def decode_on_calls(data: bytes) -> ForwardedCall | CancelCall:
    """What came on a node's calls channel: a call, or the cancel of one (it has a mode, "x")."""
    m = unpack(data)
    if isinstance(m, dict) and "x" in m:
        return _cancel_from(m)
    return ForwardedCall.from_map(m)


@dataclass
class CallAnswer:
    """What came of a forwarded call: a result (args, kwargs) or an error (its URI too); or one
    progressive result of it (`progress`), of which any number come, in order, before the last."""

    id: int
    args: list | None = None
    kwargs: dict | None = None
    error: str | None = None
    progress: bool = False

    def encode(self) -> bytes:
        m = {"i": self.id, "a": self.args, "k": self.kwargs, "e": self.error}
        if self.progress:  # absent otherwise: what a node before progressive results wrote
            m["p"] = True
        return msgpack.packb(m, use_bin_type=True)

    @classmethod
    def decode(cls, data: bytes) -> "CallAnswer":
        m = unpack(data)
        if (
            not isinstance(m, dict)
            or type(m.get("i")) is not int
            or not isinstance(m.get("a"), (list, type(None)))
            or not isinstance(m.get("k"), (dict, type(None)))
            or not isinstance(m.get("e"), (str, type(None)))
            or type(m.get("p", False)) is not bool
            or (m.get("p") and m["e"] is not None)
        ):
            raise WireError("a call's answer is not {id, args, kwargs, error[, progress]}")
        return cls(m["i"], m["a"], m["k"], m["e"], m.get("p", False))

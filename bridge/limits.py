"""Every limit the hub enforces against its clients, named once: variable, default, unit, cost.

Pure (no I/O, no crossbar): the router's workers, the HTTP bridge and the synchronous clients read
the same table, and docs/security.md lists every entry (a unit test keeps the two in step). Each
limit is overridable from the environment by its variable; `read(env)` refuses an unusable value
with a message naming the variable, so a bad setting stops the hub before it starts.

Defaults are chosen for a public site with browsers behind shared NATs; each entry says what the
limit guards against and what it costs (memory held, or who is refused).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Mapping

from switchboard.bridge.uris import LIMIT_EXCEEDED, RATE_LIMITED  # noqa: F401  (limits.<name> too)


class LimitError(ValueError):
    """A limit's variable holds something unusable; the message names the variable."""


@dataclass(frozen=True)
class Limit:
    name: str
    env: str
    default: float
    unit: str
    what: str
    cost: str
    integer: bool = True
    #: the smallest value that makes sense (0 turns a rate limit off where `off_at_zero`)
    minimum: float = 1
    off_at_zero: bool = False

    def parse(self, raw: str | None) -> float:
        if raw is None or raw.strip() == "":
            return self.default
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        ok = math.isfinite(value) and (value >= self.minimum or (self.off_at_zero and value == 0))
        if ok and self.integer and value != int(value):
            ok = False
        if not ok:
            floor = "0 (off) or " if self.off_at_zero else ""
            kind = "a whole number" if self.integer else "a number"
            raise LimitError(f"{self.env}={raw!r} is not {kind} of {self.unit} ({floor}at least {self.minimum:g})")
        return int(value) if self.integer else value


_TABLE: list[Limit] = [
    Limit(
        "max_message_size",
        "SWITCHBOARD_MAX_MESSAGE_SIZE",
        1024 * 1024,
        "bytes",
        "largest WebSocket or RawSocket message and HTTP bridge body a client may send",
        "a message is held whole while it is decoded: each connection may hold one this large",
    ),
    Limit(
        "http_timeout",
        "SWITCHBOARD_HTTP_TIMEOUT",
        15,
        "seconds",
        "how long a web transport connection may go without a byte from the client before it has "
        "finished an HTTP request (an upgraded WebSocket is kept alive by its pings instead)",
        "a connection that sends nothing, or never ends its request line or headers, is closed after "
        "it; without it such connections stayed open for ever, bounded only by connections_per_ip",
    ),
    Limit(
        "max_depth",
        "SWITCHBOARD_MAX_DEPTH",
        32,
        "levels",
        "deepest nesting of lists and objects in any message or bridge body (the WAMP message's own "
        "list counts as one level), checked before the JSON decoder recurses",
        "a deeper message closes the connection (WebSocket 1002 / RawSocket abort) or gets HTTP 400",
    ),
    Limit(
        "send_buffer",
        "SWITCHBOARD_SEND_BUFFER",
        1024 * 1024,
        "bytes",
        "bytes a connection may have waiting to be sent before it counts as a slow consumer and is "
        "dropped (one message beyond it is still queued)",
        "up to this much (plus one message) of memory per connection that reads slower than it is sent to",
    ),
    Limit(
        "calls_per_second",
        "SWITCHBOARD_CALLS_PER_SECOND",
        50,
        "calls/s",
        "sustained rate of calls one browser session (roles anonymous and user) may make: a token bucket",
        "a call over the rate gets switchboard.error.rate_limited; 0 turns it off",
        integer=False,
        off_at_zero=True,
    ),
    Limit(
        "call_burst",
        "SWITCHBOARD_CALL_BURST",
        100,
        "calls",
        "calls a browser session may make at once above the sustained rate (the bucket's size)",
        "none beyond the rate limit itself",
    ),
    Limit(
        "publishes_per_second",
        "SWITCHBOARD_PUBLISHES_PER_SECOND",
        50,
        "publishes/s",
        "sustained rate of publishes one browser session may make: a token bucket",
        "a publish over the rate gets switchboard.error.rate_limited (when acknowledged; else it is "
        "dropped and logged); 0 turns it off",
        integer=False,
        off_at_zero=True,
    ),
    Limit(
        "publish_burst",
        "SWITCHBOARD_PUBLISH_BURST",
        100,
        "publishes",
        "publishes a browser session may make at once above the sustained rate",
        "none beyond the rate limit itself",
    ),
    Limit(
        "max_subscriptions",
        "SWITCHBOARD_MAX_SUBSCRIPTIONS",
        100,
        "subscriptions",
        "subscriptions one browser session may hold at once",
        "a subscribe beyond it gets switchboard.error.limit_exceeded",
    ),
    Limit(
        "connections_per_ip",
        "SWITCHBOARD_CONNECTIONS_PER_IP",
        500,
        "connections",
        "open connections from one client address (an office or a mobile carrier's NAT shares one)",
        "a connection beyond it is closed at once, before any byte is read; 0 turns it off",
        off_at_zero=True,
    ),
    Limit(
        "connects_per_second_per_ip",
        "SWITCHBOARD_CONNECTS_PER_SECOND_PER_IP",
        20,
        "connections/s",
        "sustained rate of new connections from one client address: a token bucket with a burst of five seconds' worth",
        "a connection over the rate is closed at once; 0 turns it off",
        integer=False,
        off_at_zero=True,
    ),
    Limit(
        "authorization_cache",
        "SWITCHBOARD_AUTHORIZATION_CACHE",
        10_000,
        "entries",
        "authorization decisions the router caches (one per role, URI and action; Crossbar kept one for "
        "every distinct URI any client tried, for ever)",
        "a decision past it evicts the oldest; its URI's next use asks the rules again (microseconds)",
    ),
    Limit(
        "chat_max_rooms",
        "SWITCHBOARD_CHAT_MAX_ROOMS",
        1000,
        "rooms",
        "chat rooms the chat component lists in chat.rooms at once (held in its memory, a few hundred "
        "bytes each; a room with no message for an hour leaves the list)",
        "a post to a new room beyond it drops the least recently active room from the list (not its "
        "history): the post is never refused",
    ),
    Limit(
        "history_max_topics",
        "SWITCHBOARD_HISTORY_MAX_TOPICS",
        10_000,
        "topics",
        "topics the history store keeps events of (chat rooms and private user topics; the router "
        "holds a position counter per topic in memory; on a cluster, Redis does, for every node)",
        "a new topic beyond it evicts the whole history of the least recently written topic; its "
        "positions start again at 1 and a client resuming it gets gap=true",
    ),
    Limit(
        "history_max_bytes",
        "SWITCHBOARD_HISTORY_MAX_BYTES",
        512 * 1024 * 1024,
        "bytes",
        "space the history store's SQLite pages may hold, checked after each write batch (the file "
        "may pass it by one batch, and its WAL by about 4 MiB); on a cluster, the bytes of the events "
        "stored in Redis, summed in a counter (Redis's own overhead, about 200 bytes an event, on top)",
        "past it the least recently written topics are evicted whole, down to 90% of it; the topics "
        "of the batch just written are kept",
        minimum=64 * 1024,
    ),
    Limit(
        "metrics_procedures",
        "SWITCHBOARD_METRICS_PROCEDURES",
        200,
        "procedures",
        "distinct `procedure` labels /metrics gives calls: registration URIs (a prefix or wildcard "
        "registration's own URI), first come first labelled; calls of any later one count under `other`",
        "each label holds a latency histogram (17 integers) in the router's memory and adds about 25 "
        "lines to every scrape",
    ),
    Limit(
        "cluster_call_timeout",
        "SWITCHBOARD_CLUSTER_CALL_TIMEOUT",
        30.0,
        "seconds",
        "how long a call forwarded to the cluster node that has the procedure waits for its answer "
        "(or its next progressive result) at most (a shorter timeout the caller gives wins; "
        "router/patches/calls.py)",
        "the caller's node holds each forwarded call until then; a call to a node that died fails "
        "with switchboard.error.timeout only after it",
        integer=False,
        minimum=0.1,
    ),
    Limit(
        "cluster_outbox_events",
        "SWITCHBOARD_CLUSTER_OUTBOX_EVENTS",
        100_000,
        "events",
        "events a cluster node holds for the other nodes while Redis does not take them (Redis slow "
        "or gone; router/cluster/relay.py)",
        "the router's memory for them (about the events' size); past it the oldest are dropped, with "
        "one log line, and the other nodes' subscribers miss them (history still has them once Redis is back)",
    ),
    Limit(
        "cluster_history_held_events",
        "SWITCHBOARD_CLUSTER_HISTORY_HELD_EVENTS",
        100_000,
        "events",
        "events published on a cluster node that its history holds while Redis does not take them, "
        "written in order once it does (router/services/history_held.py)",
        "the router's memory for them, as Python objects (measured 1.6 KB for a chat message of 280 "
        "bytes of JSON: 100,000 held are about 160 MB); past it the oldest are dropped with one log line, "
        "and a recovery across them answers gap true",
    ),
]

#: name -> Limit
LIMITS: dict[str, Limit] = {limit.name: limit for limit in _TABLE}


def read(env: Mapping[str, str] | None = None) -> dict[str, float]:
    """Every limit's value under `env` (default: the process environment), by name."""
    env = os.environ if env is None else env
    return {limit.name: limit.parse(env.get(limit.env)) for limit in _TABLE}


def value(name: str, env: Mapping[str, str] | None = None) -> float:
    """One limit's value under `env` (default: the process environment)."""
    limit = LIMITS[name]
    return limit.parse((os.environ if env is None else env).get(limit.env))


#: what a load generator on loopback meets: every connection from 127.0.0.1, hundreds a second, and
#: one session calling or publishing thousands of times a second
LOAD_GENERATOR_LIMITS = (
    "connections_per_ip",
    "connects_per_second_per_ip",
    "calls_per_second",
    "call_burst",
    "publishes_per_second",
    "publish_burst",
    "max_subscriptions",
)


def lifted_for_load() -> dict[str, str]:
    """Environment that sets LOAD_GENERATOR_LIMITS far above any load here, so a benchmark or the
    layout measurement (router/node/layout_measure.py) is never refused, and every check still runs."""
    return {LIMITS[name].env: "1000000" for name in LOAD_GENERATOR_LIMITS}

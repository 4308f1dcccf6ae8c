"""Events between the nodes of a cluster: one Redis pub/sub channel per realm, two threads per node.

The outbox thread publishes what this node's broker dispatched (handed over by `send`, on the
reactor: an append and, when the thread sleeps, a wake-up) in batches: everything queued since its
last PUBLISH goes in the next one, so a burst costs one Redis round trip per batch, not per event.
A retained event is also written to the realm's retained hash in the same pipeline, for nodes that
start later (`load_retained`). The inbox thread listens on the channel and hands each batch from
another node to the reactor (`deliver`), in the order its origin sent them.

While Redis is unreachable the outbox keeps up to `cluster_outbox_events` (bridge/limits.py) and
sends them once it is back, oldest first; beyond that the oldest are dropped. Pub/sub does not keep
messages for a listener that is not connected, and every node's listener reconnects on its own
schedule: so after Redis was lost (to the outbox or to this node's inbox) the outbox sends nothing
until as many listeners are on the realm's channel as its last batch before reached, and the
channel of each message it holds (a call forwarded to a node, an answer) has its node's listener, or
LISTENERS_WAIT has passed (a node that died meanwhile does not come back): so the nodes that stay
up get what the others held. One log line when Redis goes, one when it is back.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable

from switchboard.router.cluster import link, wire
from twisted.logger import Logger

log = Logger()

#: seconds between two tries to reach Redis again, at most (doubling from RETRY_FIRST)
RETRY_FIRST, RETRY_MOST = 0.1, 2.0
#: seconds the outbox waits, once Redis is back, for the listeners it had (each retries every
#: RETRY_MOST at most), and between two counts of them
LISTENERS_WAIT, LISTENERS_POLL = 3 * RETRY_MOST, 0.05
#: events taken from the outbox per pipeline at most, and bytes per PUBLISH of events at most (a
#: batch is one pub/sub message every node must take in one piece; Redis drops a listener whose
#: pending messages pass its `client-output-buffer-limit pubsub`, 32 MB by default)
BATCH_EVENTS = 1000
BATCH_BYTES = 1024 * 1024
#: what an outbox entry is: an event for every node, or a message for one channel
EVENT, MESSAGE = 0, 1


class Relay:
    """The outbox and inbox of one realm's broker on one node."""

    def __init__(
        self,
        url: str,
        realm: str,
        node: str,
        deliver: Callable[[list[wire.RelayedEvent]], None],
        *,
        call_from_thread: Callable,
        max_queued: int,
    ):
        self.url, self.realm, self.node = url, realm, node
        self.channel = wire.events_channel(realm)
        self._deliver, self._call = deliver, call_from_thread
        #: other channels the inbox listens to: channel -> what takes its messages (bytes), on the reactor
        self.listeners: dict[str, Callable[[bytes], None]] = {}
        #: called on the reactor each time the inbox listens again after it lost Redis (the call
        #: forwarder writes and reads the registrations again at once)
        self.on_back: Callable[[], None] | None = None
        self._max_queued = max_queued
        self._queue: collections.deque = collections.deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        #: set by the inbox when it lost Redis: the outbox counts the listeners before it sends again
        self._inbox_lost = threading.Event()
        #: how many listeners the last batch of events reached (this node's own inbox among them)
        self.listeners_seen = 0
        #: counts for /metrics and the tests: events sent, received, dropped (outbox full)
        self.sent = self.received = self.dropped = 0
        self._dropping = False
        self._threads = [
            threading.Thread(target=self._outbox, name=f"switchboard-relay-out-{realm}", daemon=True),
            threading.Thread(target=self._inbox, name=f"switchboard-relay-in-{realm}", daemon=True),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def wait_subscribed(self, timeout: float) -> bool:
        return self._subscribed.wait(timeout)

    # --- on the reactor -------------------------------------------------------------------------
    def send(self, item: dict, retained: bool = False) -> None:
        """Queue one event (a RelayedEvent.as_item map) for the other nodes."""
        self._put((EVENT, item, retained))

    def send_message(self, channel: str, data: bytes) -> None:
        """Queue one message for one channel (a forwarded call, an answer), in order with the events."""
        self._put((MESSAGE, channel, data))

    def _put(self, entry: tuple) -> None:
        queue = self._queue
        queue.append(entry)
        if len(queue) > self._max_queued:
            queue.popleft()
            self.dropped += 1
            if not self._dropping:  # one line per spell of dropping: the next successful send ends it
                self._dropping = True
                log.warn(
                    "cluster: the outbox holds {n} events (cluster_outbox_events): dropping the oldest; "
                    "the other nodes' subscribers miss them",
                    n=self._max_queued,
                )
        if not self._wake.is_set():
            self._wake.set()

    # --- the outbox thread ----------------------------------------------------------------------
    def _outbox(self) -> None:
        client, delay, lost = None, RETRY_FIRST, False
        queue = self._queue
        while not self._stopping.is_set():
            batch = next_batch(queue, self._wake, BATCH_EVENTS)
            if not batch:
                continue
            try:
                client = client or link.client(self.url)
                if lost or self._inbox_lost.is_set():
                    self._inbox_lost.clear()
                    self._await_listeners(client, {b for kind, b, _ in batch if kind == MESSAGE})
                pipe = client.pipeline(transaction=False)
                publishes = self._write(pipe, batch)
                replies = pipe.execute()
            except link.Error as e:
                queue.extendleft(reversed(batch))  # again, first, once Redis is back
                client = None
                if not lost:
                    lost = True
                    self._call(log.warn, "cluster: cannot publish to Redis ({why}): holding events", why=str(e))
                self._stopping.wait(delay)
                delay = min(delay * 2, RETRY_MOST)
                continue
            self.sent += len(batch)
            if publishes:
                self.listeners_seen = min(replies[i] for i in publishes)
            self._dropping = False
            if lost:
                lost, delay = False, RETRY_FIRST
                self._call(log.info, "cluster: publishing to Redis again")

    def _await_listeners(self, client, channels: set[str]) -> None:
        """Until the realm's channel has the listeners the last batch reached, and each of `channels`
        (the ones a message of the batch is for: another node's calls or replies) has one,
        LISTENERS_WAIT at most."""
        deadline = time.monotonic() + LISTENERS_WAIT
        others = sorted(channels)
        while not self._stopping.is_set():
            try:
                counts = client.pubsub_numsub(self.channel, *others)
            except link.Refused:  # a Redis that does not allow counting: send as before
                return
            listening = counts[0][1]
            if listening >= self.listeners_seen and all(n for _, n in counts[1:]):
                return
            if time.monotonic() >= deadline:
                silent = [c.decode() if isinstance(c, bytes) else c for c, n in counts[1:] if not n]
                self._call(
                    log.info, "cluster: {n} of {before} listeners back on Redis after {s:g} s{none}: sending to them",
                    n=listening, before=self.listeners_seen, s=LISTENERS_WAIT,
                    none=f", none on {', '.join(silent)}" if silent else "",
                )  # fmt: skip
                self.listeners_seen = listening
                return
            self._stopping.wait(LISTENERS_POLL)

    def _write(self, pipe, batch: list[tuple]) -> list[int]:
        """Runs of events as one message each (BATCH_BYTES at most), messages as they are, in the order
        queued; returns where the PUBLISHes of events are among the pipeline's replies."""
        events: list[bytes] = []
        size = 0
        retained = {}
        publishes: list[int] = []

        def publish_events():
            publishes.append(len(pipe.command_stack))
            pipe.publish(self.channel, wire.join_batch(self.node, events))

        for kind, a, b in batch:
            if kind == EVENT:
                encoded = wire.encode_item(a)
                if events and size + len(encoded) > BATCH_BYTES:
                    publish_events()
                    events, size = [], 0
                events.append(encoded)
                size += len(encoded)
                if b:
                    retained[a["t"]] = encoded
                continue
            if events:
                publish_events()
                events, size = [], 0
            pipe.publish(a, b)
        if events:
            publish_events()
        if retained:
            pipe.hset(wire.retained_key(self.realm), mapping=retained)
        return publishes

    # --- the inbox thread -----------------------------------------------------------------------
    def _inbox(self) -> None:
        delay, lost = RETRY_FIRST, False
        while not self._stopping.is_set():
            pubsub = None
            try:
                pubsub = link.client(self.url, reply_timeout=None, reconnect=False).pubsub(
                    ignore_subscribe_messages=True
                )
                pubsub.subscribe(self.channel, *self.listeners)
                self._subscribed.set()
                if lost:
                    lost, delay = False, RETRY_FIRST
                    self._call(log.info, "cluster: listening to Redis again")
                    if self.on_back is not None:
                        self._call(self.on_back)
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    channel = message["channel"].decode()
                    if channel == self.channel:
                        self._take(message["data"])
                    elif channel in self.listeners:
                        self._call(self.listeners[channel], message["data"])
            except link.Error as e:
                self._subscribed.clear()
                self._inbox_lost.set()
                if not lost:
                    lost = True
                    self._call(log.warn, "cluster: lost Redis ({why}): events of other nodes are missed", why=str(e))
                self._stopping.wait(delay)
                delay = min(delay * 2, RETRY_MOST)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except link.Error:
                        pass

    def _take(self, data: bytes) -> None:
        try:
            node, events = wire.decode_batch(data)
        except wire.WireError as e:
            self._call(log.warn, "cluster: a message on {channel} is not a batch: {why}", channel=self.channel, why=e)
            return
        if node == self.node or not events:
            return
        self.received += len(events)
        self._call(self._deliver, events)


def load_retained(url: str, realm: str) -> list[wire.RelayedEvent]:
    """Every retained event the cluster holds for `realm` (blocking: call it on a thread)."""
    found = link.client(url).hgetall(wire.retained_key(realm))
    events = []
    for data in found.values():
        try:
            events.append(wire.decode_event(data))
        except wire.WireError:
            continue
    return events


def next_batch(queue: collections.deque, wake: threading.Event, most: int) -> list:
    """On a writer thread: up to `most` entries of `queue`, oldest first; [] once it has waited up to
    a second for the reactor to `wake` it (then its caller checks whether it is stopping)."""
    if not queue:
        wake.wait(1.0)
        wake.clear()
        return []
    return [queue.popleft() for _ in range(min(len(queue), most))]


def write_procedures(url: str, realm: str, node: str, procedures: list[tuple[str, str]], ttl: float) -> None:
    """Say which procedures `node` has, for `ttl` seconds (blocking: call it on a thread)."""
    pipe = link.client(url).pipeline(transaction=False)
    pipe.set(wire.procedures_key(realm, node), wire.encode_procedures(procedures), px=int(ttl * 1000))
    pipe.sadd(wire.nodes_key(realm), node)
    pipe.publish(wire.procedures_channel(realm), node)
    pipe.execute()


def read_procedures(url: str, realm: str) -> dict[str, list[tuple[str, str]]]:
    """Every live node's procedures (blocking: call it on a thread); forgets the nodes that are gone."""
    client = link.client(url)
    nodes = sorted(n.decode() for n in client.smembers(wire.nodes_key(realm)))
    if not nodes:
        return {}
    found, gone = {}, []
    for node, data in zip(nodes, client.mget([wire.procedures_key(realm, n) for n in nodes])):
        if data is None:
            gone.append(node)
            continue
        try:
            found[node] = wire.decode_procedures(data)
        except wire.WireError:
            continue
    if gone:
        client.srem(wire.nodes_key(realm), *gone)
    return found

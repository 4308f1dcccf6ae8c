"""Event history: records events on history-enabled topics and serves history.get.

A router component, so it lives and dies with the router and sees every event the router delivers,
whoever published it (browser, component, HTTP bridge). Each stored event gets a per-topic position,
assigned in the order the router delivered it. Writes go to one dedicated thread as group commits:
an event arriving while it is idle is committed at once, and whatever arrives meanwhile is the next
batch, so an event waits about one SQLite commit. The PUBLISHED reply to an
acknowledged publish is held until its batch is committed (router/patches/durable_ack.py): an acknowledged
event survives a kill -9 of the router. A read on that thread first commits what is queued, so
history.get sees every event received before the call.

Beyond each topic's retention, the store as a whole is capped (`history_max_topics`,
`history_max_bytes` in bridge/limits.py): after each batch the least recently written topics are
evicted whole, so one client creating rooms without end cannot fill the disk or the router's memory
(a position counter per topic), and the most recently written rooms keep their history. A topic of
the batch at hand is only evicted when that batch alone holds more new topics than the cap. One log
line says when a cap starts to bite (then at most one an hour while it does).

On a cluster node (SWITCHBOARD_REDIS_URL set) the store is the cluster's Redis
(router/services/history_redis.py) and the component records only the events published on its own
node (`relay.origin_only`): each event is stored once, by the node its publisher is connected to, and
acknowledged once it is in Redis; every node reads the one history. While the store cannot be
reached (StoreUnavailable), one line says so, acknowledgements go out without a commit, the events
are held (history_held.py, up to `cluster_history_held_events`; past it the oldest are dropped and
leave a hole in the positions, so a recovery across them says gap), only a retry every
HELD_RETRY seconds tries the store, reads answer switchboard.error.unavailable, and one line says
when it is back: what was held is written first, in order, and a read on this node waits for it.

What a client can recover, and what not: docs/history.md.
"""

from __future__ import annotations

import threading
from pathlib import Path

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import RegisterOptions, SubscribeOptions
from switchboard.bridge import limits, uris
from switchboard.router import settings as S
from switchboard.router.patches import durable_ack, relay
from switchboard.router.services import counters
from switchboard.router.services.history_held import Held
from switchboard.router.services.history_policy import HistoryPolicy
from switchboard.router.services.history_store import HistoryStore, StoreUnavailable
from switchboard.router.services.permissions import decide_for_user, public_rules
from switchboard.router.services.session import CheckedArguments, QuietApplicationErrors
from switchboard.router.settings import BACKEND_ROLE
from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

log = Logger()

GET = "history.get"
#: Most events one history.get returns.
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
#: Batches the writer commits in a row before queued reads and trims have their turn.
DRAIN_BATCHES = 10
#: How often age-based retention runs over all topics (seconds).
TRIM_INTERVAL = 60.0
#: Topics trimmed per job of that pass.
TRIM_CHUNK = 100
#: While the store's caps bite, at most one log line per this many seconds.
CAP_LOG_INTERVAL = 3600.0
#: Seconds between two tries of a store that could not be reached, while events are held for it.
HELD_RETRY = 0.5


class History(QuietApplicationErrors, CheckedArguments, ApplicationSession):
    """Subscribes to the history-enabled topics (config extra "topics") and registers history.get."""

    #: what events are stamped, trimmed and the cap's log line paced by (a test sets a task.Clock)
    clock = reactor
    #: the store failed its last write (one line when that starts, one when it is over)
    _store_down = False
    #: the hold is dropping its oldest (one line per outage); the next try of the store, while one waits
    _dropping = False
    _retry = None

    async def onJoin(self, details):
        extra = self.config.extra or {}
        self._acks = None
        self._policy = HistoryPolicy(extra.get("topics", []))
        self._rules = public_rules()
        self._pool = ThreadPool(1, 1, name="switchboard-history")
        self._pool.start()
        reactor.addSystemEventTrigger("during", "shutdown", self._pool.stop)
        redis_url = S.runtime().redis_url
        if redis_url:  # a cluster node: the cluster's history, recorded where published
            from switchboard.router.services.history_redis import RedisHistoryStore

            relay.origin_only(self)
            where = S.without_password(redis_url)
            self._store = await self._run(RedisHistoryStore, redis_url, self.config.realm)
        else:
            where = str(Path(extra.get("database", "history.sqlite3")))
            self._store = await self._run(HistoryStore, Path(where))
        await self._run(self._report, 0)
        self._max_topics = limits.value("history_max_topics")
        self._max_bytes = limits.value("history_max_bytes")
        self._capped_line_at, self._evictions = None, 0
        self._run(self._store.evict, max_topics=self._max_topics, max_bytes=self._max_bytes).addCallbacks(
            self._evicted, self._failed, errbackArgs=("enforcing the caps failed",)
        )
        self._queue: list[tuple] = []  # recorded, not yet taken by the writer (under _queue_lock)
        self._queue_lock = threading.Lock()
        self._draining = False  # the writer is running: it takes what is queued without being asked
        self._held = Held(limits.value("cluster_history_held_events"))  # on the history thread only
        self._dropping = False
        for rule in self._policy.rules:
            options = SubscribeOptions(match=rule.match, details_arg="details")
            await self.subscribe(self._record, rule.uri, options=options)
        await self.register(self.get, GET, options=RegisterOptions(details_arg="details"))
        self._trimmer = LoopingCall(self._trim_all)
        self._trimmer.clock = self.clock
        self._trimmer.start(TRIM_INTERVAL, now=True)
        self._acks = durable_ack.attach(self)  # from now on, publishes to these topics wait for their commit
        log.info("history: {n} rule(s), store {path}", n=len(self._policy.rules), path=where)

    def _run(self, fn, *args, **kwargs):
        return deferToThreadPool(reactor, self._pool, fn, *args, **kwargs)

    # --- recording ----------------------------------------------------------------------------
    def onLeave(self, details):
        relay.forget(self)
        self._release_all()
        return super().onLeave(details)

    def onDisconnect(self):
        self._release_all()
        return super().onDisconnect()

    def _release_all(self):
        """No history any more: every held acknowledgement goes out now."""
        acks, self._acks = getattr(self, "_acks", None), None
        if acks is not None:
            acks.close()

    def _record(self, *args, details=None, **kwargs):
        event = (details.topic, details.publication, self.clock.seconds(), list(args), kwargs)
        with self._queue_lock:
            self._queue.append(event)
            if self._draining:  # the thread takes it with the next batch
                return
            self._draining = True
        self._run(self._drain).addErrback(lambda f: log.failure("history: the writer stopped", failure=f))

    def _drain(self):
        """On the history thread: commit everything queued as one batch (a group commit), again until
        nothing is left; what arrives during a commit is the next batch. After DRAIN_BATCHES it goes
        to the back of the thread's queue, so reads and trims never starve under a steady stream."""
        for _ in range(DRAIN_BATCHES):
            if not self._write_queued(done_when_empty=True):
                return
        try:
            self._pool.callInThread(self._drain)
        except Exception:  # the pool is stopping (shutdown): finish here
            while self._write_queued(done_when_empty=True):
                pass

    def _write_queued(self, *, done_when_empty: bool, retry: bool = False) -> bool:
        """On the history thread: commit what is held and queued now, held first (one chunk of it at
        most); False if there was nothing (and, with `done_when_empty`, the writer is done: the next
        event asks for it again). While the store is down only a `retry` tries it: the rest is held."""
        waiting = self._store_down and not retry
        with self._queue_lock:
            batch, self._queue = self._queue, []
            if not batch and (waiting or not self._held):
                if done_when_empty:
                    self._draining = False
                return False
        if waiting:  # the store is away: hold them, and let their acknowledgements go
            self._hold(self._held.hold(batch))
            reactor.callFromThread(self._committed, [event[1] for event in batch])
            return True
        self._held.hold(batch)  # behind what is held (mostly nothing: then this batch is the chunk)
        holes, batch = self._held.take()
        try:
            eviction = self._write(batch, holes)
        except StoreUnavailable as e:
            self._hold(self._held.put_back(holes, batch))
            if not self._store_down:
                self._store_down = True
                reactor.callFromThread(
                    log.warn,
                    "history: cannot store events ({why}): they are delivered and held (up to {most}, "
                    "cluster_history_held_events) until it is back",
                    why=str(e),
                    most=self._held.most,
                )
            reactor.callFromThread(self._retry_later)
        except Exception:
            reactor.callFromThread(log.failure, "history: could not store {n} events", failure=Failure(), n=len(batch))
        else:
            if self._store_down:
                self._store_down, self._dropping = False, False
                reactor.callFromThread(log.info, "history: storing events again")
            reactor.callFromThread(self._evicted, eviction)
        return True

    def _hold(self, dropped: int) -> None:
        """On the history thread: one line when the hold starts dropping the oldest (then none until
        the store is back)."""
        if dropped and not self._dropping:
            self._dropping = True
            reactor.callFromThread(
                log.warn,
                "history: holding {most} events for the store (cluster_history_held_events): dropping the oldest; "
                "a recovery across them answers gap",
                most=self._held.most,
            )

    def _retry_later(self) -> None:
        """On the reactor: try the store again in HELD_RETRY seconds (one try waits at a time), and
        write what is held if it answers."""
        if self._retry is not None and self._retry.active():
            return
        self._retry = self.clock.callLater(
            HELD_RETRY, lambda: self._run(self._flush).addErrback(self._failed, "writing held events")
        )

    def _flush(self) -> None:
        """On the history thread: write what is queued, and what is held until nothing is, or the store fails."""
        wrote = self._write_queued(done_when_empty=False, retry=True)
        while wrote and self._held and not self._store_down:
            wrote = self._write_queued(done_when_empty=False, retry=True)

    def _committed(self, publications):
        """On the reactor: the batch holding these publications is on disk (or failed): acknowledge them."""
        if self._acks is not None:
            self._acks.release(publications)

    def _write(self, batch, holes=None):
        """On the history thread: store a batch (after `holes`, what was dropped while it was held), let
        its acknowledgements go, enforce count retention on the topics it touched, then the store's caps."""
        try:
            self._store.append_many(batch, holes)
        finally:  # committed, or it never will be: a publisher must not wait for it
            reactor.callFromThread(self._committed, [event[1] for event in batch])
        now = self.clock.seconds()
        touched = {event[0] for event in batch} | set(holes or ())
        retained = [(topic, self._policy.retention(topic)) for topic in touched]
        self._store.trim_many([(t, r.max_events, now - r.max_age) for t, r in retained], quick=True)
        try:
            return self._store.evict(max_topics=self._max_topics, max_bytes=self._max_bytes, keep=touched)
        finally:
            self._report(len(batch))

    def _report(self, written: int) -> None:
        """On the history thread (the only writer of counters.history): for /metrics."""
        stats = counters.history
        stats["writes"] += written
        stats["events"], stats["bytes"] = self._store.events, self._store.bytes

    def _evicted(self, eviction):
        """On the reactor: one line when the caps start to bite, then at most one an hour while they do."""
        if not eviction.topics:
            return
        self._evictions += eviction.topics
        now = self.clock.seconds()
        if self._capped_line_at is not None and now - self._capped_line_at < CAP_LOG_INTERVAL:
            return
        first = self._capped_line_at is None
        self._capped_line_at = now
        log.warn(
            "history: store at its cap ({max_topics} topics, {max_bytes} bytes): {what} the least recently "
            "written topics whole ({n} evicted{since}; next line in an hour at most)",
            max_topics=self._max_topics,
            max_bytes=self._max_bytes,
            n=self._evictions,
            what="evicting" if first else "still evicting",
            since="" if first else " since the last line",
        )
        self._evictions = 0

    def _failed(self, failure, what: str):
        """A job on the store failed: quietly while the store is unreachable (the writer says so)."""
        if not failure.check(StoreUnavailable):
            log.failure("history: {what}", failure=failure, what=what)

    def _trim_all(self):
        return ensureDeferred(self._trim_in_chunks()).addErrback(self._failed, "trimming failed")

    async def _trim_in_chunks(self):
        """Age retention over every topic, TRIM_CHUNK topics per job on the history thread: commits
        queued meanwhile go in between, so no acknowledgement waits for the whole pass."""
        if not await self._run(self._store.claim_pass, TRIM_INTERVAL):  # another node runs it
            return
        topics = await self._run(self._store.topics)
        for i in range(0, len(topics), TRIM_CHUNK):
            await self._run(self._trim, topics[i : i + TRIM_CHUNK])

    def _trim(self, topics):
        now = self.clock.seconds()
        gone, kept = [], []
        for topic in topics:
            retention = self._policy.retention(topic)
            if retention is None:  # no longer history-enabled: drop it
                gone.append(topic)
            else:
                kept.append((topic, retention.max_events, now - retention.max_age))
        self._store.drop(gone)
        self._store.trim_many(kept)
        self._report(0)

    # --- reading ------------------------------------------------------------------------------
    def _may_read(self, details, topic: str) -> bool:
        """A client may read the history of exactly the topics it may subscribe to."""
        role, authid = details.caller_authrole, details.caller_authid
        if role == BACKEND_ROLE:
            return True
        if role == "user":
            return decide_for_user(self._rules, authid, topic, "subscribe").allow
        if role == "anonymous":
            return self._rules.decide(topic, "subscribe").allow
        return False

    async def get(self, topic=None, since=None, after_publication=None, limit=DEFAULT_LIMIT, details=None):
        """history.get(topic, since=position | after_publication=id, limit) -> {"events", "last", "gap"}.

        Without since/after_publication: the newest `limit` events, oldest first.
        """
        if not isinstance(topic, str) or not topic:
            raise ApplicationError(uris.INVALID_ARGUMENT, "topic must be a non-empty string")
        if since is not None and after_publication is not None:
            raise ApplicationError(uris.INVALID_ARGUMENT, "give since or after_publication, not both")
        for name, value in (("since", since), ("after_publication", after_publication)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ApplicationError(uris.INVALID_ARGUMENT, f"{name} must be an integer >= 0")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise ApplicationError(uris.INVALID_ARGUMENT, f"limit must be an integer in 1..{MAX_LIMIT}")
        if self._policy.retention(topic) is None:
            raise ApplicationError(uris.NO_HISTORY, f"topic {topic!r} has no history")
        if details is None or not self._may_read(details, topic):
            raise ApplicationError("wamp.error.not_authorized", f"not authorized to read the history of {topic!r}")
        try:
            return await self._run(self._read, topic, since, after_publication, limit)
        except StoreUnavailable:
            raise ApplicationError(uris.UNAVAILABLE, "history cannot be read right now: try again") from None

    def _read(self, topic, since, after_publication, limit):
        self._flush()  # every event recorded (or held) before the call is stored first
        if self._store_down:
            raise StoreUnavailable("events held for the store are not written yet")
        store = self._store
        last = store.last_position(topic)
        first = store.first_position(topic)
        gap = False
        if after_publication is not None:
            since = store.position_of(topic, after_publication)
            if since is None:  # unknown or already dropped: give what there is, and say so
                since, gap = (first - 1 if first else last), True
        if since is None:
            events = store.read(topic, after=max(0, last - limit), limit=limit)
        else:
            if since > last:  # the topic was evicted and began again: give it from its start
                since, gap = 0, True
            gap = gap or (first is not None and since < first - 1) or (first is None and since < last)
            events = store.read(topic, after=since, limit=limit)
            # a shared store is written by other nodes meanwhile: what was read is what counts
            gap = gap or bool(events and events[0].position > since + 1)
            # positions past `since` that no event holds: events lost (dropped while held, or trimmed)
            gap = gap or (not events and since < last)
        if events:
            last = max(last, events[-1].position)
        return {"events": [e.as_dict() for e in events], "last": last, "gap": gap}

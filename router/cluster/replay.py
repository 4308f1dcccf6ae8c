"""The cluster's replay memory: ticket ids, bridge nonces and event ids checked in Redis, off the reactor.

The ticket authenticator and the HTTP bridge (both in the router worker) ask through one
`SharedReplay` per process (`shared(url)`). Each question is a Deferred on the reactor; one thread
takes every question queued since its last round trip and sends them in one pipeline, so a burst
(a batch of events with ids, many sign-ins at once) costs one round trip, not one each. What is
asked and what the answers mean is router/cluster/claims.py.

Redis unreachable (or refusing writes): every question waiting fails with ReplayUnavailable, and
new ones fail at once for claims.RETRY_SECONDS before one round trip tries again; one log line when
it goes, one when it is back.
"""

from __future__ import annotations

import collections
import threading

from switchboard.router.cluster import claims, link
from switchboard.router.cluster.relay import next_batch
from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger

log = Logger()

#: questions per round trip at most
BATCH = 1000
#: seconds to wait for any reply: a sign-in waits no longer than this on a Redis that hangs
REPLY_TIMEOUT = 2.0

#: the operations (claims.py says what each asks)
FIRST_USE, CLAIM_ID, ID_DONE, RELEASE_ID = "first_use", "claim_id", "id_done", "release_id"


class SharedReplay:
    def __init__(self, url: str, *, reactor=None, outage: claims.Outage | None = None):
        if reactor is None:
            from twisted.internet import reactor
        self.url, self._reactor = url, reactor
        self.outage = claims.Outage() if outage is None else outage
        self._queue: collections.deque = collections.deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        #: round trips made and questions answered (the tests and a bench read them)
        self.round_trips = self.answered = 0
        self._thread = threading.Thread(target=self._run, name="switchboard-replay-redis", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)

    # --- on the reactor -------------------------------------------------------------------------
    def first_use(self, key: str, ttl: float) -> Deferred:
        """True if `key` was not held (it is now, for `ttl` seconds), False for a replay."""
        return self._ask(FIRST_USE, key, claims.milliseconds(ttl))

    def claim_id(self, key: str) -> Deferred:
        """claims.NEW (this request publishes it), claims.DONE (published) or claims.PENDING (being published)."""
        return self._ask(CLAIM_ID, key, claims.milliseconds(claims.PENDING_TTL))

    def id_done(self, key: str, ttl: float) -> Deferred:
        return self._ask(ID_DONE, key, claims.milliseconds(ttl))

    def release_id(self, key: str) -> Deferred:
        return self._ask(RELEASE_ID, key, None)

    def _ask(self, op: str, key: str, arg) -> Deferred:
        why = self.outage.refusing()
        if why is not None:
            return fail(claims.ReplayUnavailable(claims.refusal(why)))
        d = Deferred()
        self._queue.append((op, key, arg, d))
        if not self._wake.is_set():
            self._wake.set()
        return d

    @staticmethod
    def _settle(outcomes: list) -> None:
        for d, outcome in outcomes:
            if isinstance(outcome, Exception):
                d.errback(outcome)
            else:
                d.callback(outcome)

    # --- the thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        client = scripts = None
        queue = self._queue
        while not self._stopping.is_set():
            batch = next_batch(queue, self._wake, BATCH)
            if not batch:
                continue
            try:
                if client is None:
                    client = link.client(self.url, reply_timeout=REPLY_TIMEOUT)
                    scripts = {op: client.register_script(lua) for op, lua in _SCRIPTS.items()}
                replies = self._round_trip(client, scripts, batch)
            except Exception as e:  # link.Error mostly; anything else must not end the thread either
                client = None
                self._lost(str(e) or type(e).__name__, batch)
                continue
            refused = next((r for r in replies if isinstance(r, Exception)), None)
            if refused is not None:  # e.g. OOM: Redis full (maxmemory, noeviction) takes no new keys
                self._lost(f"Redis refused: {refused}", batch)
                continue
            self.round_trips += 1
            self.answered += len(batch)
            if self.outage.recovered():
                self._reactor.callFromThread(log.info, "cluster: replay memory in Redis reachable again")
            outcomes = []
            for (op, _, _, d), reply in zip(batch, replies):
                try:
                    outcome = _ANSWER[op](reply)
                except claims.ReplayUnavailable as e:
                    outcome = e
                outcomes.append((d, outcome))
            self._reactor.callFromThread(self._settle, outcomes)

    @staticmethod
    def _round_trip(client, scripts, batch) -> list:
        pipe = client.pipeline(transaction=False)
        for op, key, arg, _ in batch:
            if op == FIRST_USE:
                pipe.set(key, 1, nx=True, px=arg)
            elif op == ID_DONE:
                pipe.set(key, claims.DONE_MARK, px=arg)
            elif op == CLAIM_ID:
                scripts[op](keys=[key], args=[claims.PENDING_MARK, arg], client=pipe)
            else:
                scripts[op](keys=[key], args=[claims.PENDING_MARK], client=pipe)
        return pipe.execute(raise_on_error=False)

    def _lost(self, why: str, batch: list) -> None:
        if self.outage.failed(why):
            self._reactor.callFromThread(
                log.warn,
                "cluster: replay memory in Redis unreachable ({why}): ticket sign-ins and bridge requests "
                "are refused until it is back",
                why=why,
            )
        error = claims.ReplayUnavailable(claims.refusal(why))
        self._reactor.callFromThread(self._settle, [(d, error) for *_, d in batch])


_SCRIPTS = {CLAIM_ID: claims.CLAIM_ID, RELEASE_ID: claims.RELEASE_ID}
_ANSWER = {
    FIRST_USE: claims.first_use,
    CLAIM_ID: claims.claim_state,
    ID_DONE: lambda reply: None,
    RELEASE_ID: lambda reply: None,
}

_shared: dict[str, SharedReplay] = {}
_lock = threading.Lock()


def shared(url: str) -> SharedReplay:
    """This process's one SharedReplay for `url` (the ticket authenticator and the bridge share it)."""
    with _lock:
        if url not in _shared:
            _shared[url] = memory = SharedReplay(url)
            memory._reactor.addSystemEventTrigger("during", "shutdown", memory.stop)
        return _shared[url]

"""Hold the PUBLISHED reply to a publish history stores until the history store has committed it.

Crossbar 26.10.1's broker (`Broker.processPublish`) acknowledges a PUBLISH before it dispatches the
event, and the history component (router/services/history.py) commits on its own thread: a kill -9 right
after an acknowledgement could lose the event from history, although chat.post had returned and the
HTTP bridge had answered 200. Here the broker notes when the history component is among the
receivers of an acknowledged publish (`_filter_publish_receivers`, run just before the reply) and
routes the router's next send, that PUBLISHED, to a table that keeps it by publication id until the
history component releases it after the commit holding the event. Every other PUBLISHED goes out at
once, as before, and every other send runs Crossbar's `Router.send` untouched.

Safety nets, so a publisher never hangs: nothing is held on a router without a joined history
component; the component leaving releases all; a failed commit releases its batch; anything held
longer than ACK_TIMEOUT goes out anyway, with one log line per sweep. Installed in the router worker
only (components/base.py).
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any, Callable, Hashable, Iterable

from switchboard.router.patches.workerproc import in_crossbar_worker
from twisted.logger import Logger

log = Logger()

#: seconds a PUBLISHED waits for its commit at most
ACK_TIMEOUT = 5.0
#: seconds between two sweeps for expired replies at least (so at most one log line per this)
SWEEP_INTERVAL = 1.0

_installed = False
#: Crossbar's own Broker._filter_publish_receivers and autobahn's Published, once installed (crossbar
#: is imported only then)
_stock_filter = _Published = None
#: router -> its DurableAcks, while a history component is joined to that router's realm
_by_router: dict[Any, "DurableAcks"] = {}


class PendingAcks:
    """Held items by key, oldest first, each with a deadline. Pure: the caller gives the time."""

    def __init__(self, timeout: float = ACK_TIMEOUT):
        self.timeout = timeout
        self._held: dict[Hashable, tuple[float, Any]] = {}

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, key: Hashable, item: Any, now: float) -> bool:
        """Keep `item` until released or `timeout` after `now`; False (not held) if `key` is held already."""
        if key in self._held:
            return False
        self._held[key] = (now + self.timeout, item)
        return True

    def release(self, keys: Iterable[Hashable]) -> list:
        """The items held under `keys`, in that order, no longer held; unknown keys are skipped."""
        held = self._held
        return [held.pop(key)[1] for key in keys if key in held]

    def expire(self, now: float) -> list:
        """The items whose deadline has come by `now`, oldest first, no longer held."""
        out = []
        held = self._held
        while held:
            key = next(iter(held))
            deadline, item = held[key]
            if deadline > now:  # held in order of their deadlines: the rest are later
                break
            del held[key]
            out.append(item)
        return out

    def next_deadline(self) -> float | None:
        return next(iter(self._held.values()))[0] if self._held else None

    def drain(self) -> list:
        """Every item, oldest first; nothing is held afterwards."""
        out = [item for _, item in self._held.values()]
        self._held.clear()
        return out


class DurableAcks:
    """The held PUBLISHED replies of one realm's router, released by its history component."""

    def __init__(
        self,
        router,
        session,
        *,
        send: Callable[[Any, Any, Any], None],
        clock: Callable[[], float] = time.monotonic,
        call_later=None,
        timeout: float = ACK_TIMEOUT,
    ):
        self.router, self.session = router, session
        self._send, self._clock = send, clock
        if call_later is None:
            from twisted.internet import reactor

            call_later = reactor.callLater
        self._call_later = call_later
        self._table = PendingAcks(timeout)
        self._timer = None
        self._last_sweep = float("-inf")

    def __len__(self) -> int:
        return len(self._table)

    def hold(self, session, reply) -> bool:
        """Keep `reply` (a PUBLISHED to `session`) until its publication is released; False: send it now."""
        if not self._table.hold(reply.publication, (session, reply), self._clock()):
            return False
        if self._timer is None:
            self._schedule()
        return True

    def release(self, publications: Iterable[int]) -> None:
        """Send the replies held for `publications` (committed, or never to be): unknown ids are skipped."""
        for session, reply in self._table.release(publications):
            self._send(self.router, session, reply)

    def close(self) -> None:
        """Send everything held; hold nothing more (the history component left)."""
        if _by_router.get(self.router) is self:
            del _by_router[self.router]
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        for session, reply in self._table.drain():
            self._send(self.router, session, reply)

    def _schedule(self) -> None:
        deadline = self._table.next_deadline()
        if deadline is None:
            return
        at = max(deadline, self._last_sweep + SWEEP_INTERVAL)
        self._timer = self._call_later(max(0.0, at - self._clock()), self._sweep)

    def _sweep(self) -> None:
        self._timer = None
        now = self._last_sweep = self._clock()
        late = self._table.expire(now)
        if late:
            log.warn(
                "durable_ack: {n} publish acknowledgement(s) sent after {timeout:g} s without their history "
                "commit (history stalled or failing?): those events may not be on disk",
                n=len(late),
                timeout=self._table.timeout,
            )
        for session, reply in late:
            self._send(self.router, session, reply)
        self._schedule()


def attach(session) -> DurableAcks | None:
    """The history component `session` (a router component) has joined: hold the PUBLISHED replies of
    publishes it receives, until it releases them. None when not installed or not a router component."""
    router = getattr(getattr(session, "_transport", None), "_router", None)
    if not _installed or router is None:
        return None
    previous = _by_router.get(router)
    if previous is not None:
        previous.close()
    acks = _by_router[router] = DurableAcks(router, session, send=send_now)
    return acks


def filter_receivers(self, receivers, publish):
    """`Broker._filter_publish_receivers`: when the history component receives an acknowledged publish,
    the router's next send (its PUBLISHED, sent right after this filtering) goes through `send_armed`."""
    out = _stock_filter(self, receivers, publish)
    if publish.acknowledge and _by_router:
        router = self._router
        acks = _by_router.get(router)
        if acks is not None and acks.session in out and "send" not in router.__dict__:
            router.send = partial(send_armed, router, publish)  # on this instance, until that PUBLISHED
    return out


def send_armed(router, publish, session, msg):
    """`Router.send` while a PUBLISHED is due to be held: hold it, then send as ever (no cost per
    message on every other send: the class's own method is back at once)."""
    if msg.__class__ is not _Published:
        send_now(router, session, msg)
        return
    del router.send
    if msg.request == publish.request and msg.correlation_uri == publish.topic:
        acks = _by_router.get(router)
        if acks is not None and acks.hold(session, msg):
            return
    send_now(router, session, msg)


def send_now(router, session, msg) -> None:
    """The router's class's own send (Crossbar's Router.send), past any armed one on the instance."""
    type(router).send(router, session, msg)


def install(force: bool = False) -> bool:
    """In a Crossbar worker (or with `force`), hold history topics' PUBLISHED until their commit: called
    for the router worker only (router/patches/__init__.py)."""
    global _installed, _stock_filter, _Published
    if _installed:
        return True
    if not (force or in_crossbar_worker()):
        return False
    from autobahn.wamp import message
    from crossbar.router.broker import Broker

    _Published = message.Published
    _stock_filter = Broker._filter_publish_receivers
    Broker._filter_publish_receivers = filter_receivers
    _installed = True
    return True

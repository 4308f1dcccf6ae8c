"""Count the WAMP messages the router worker receives and sends, by type, the bytes, and the calls by
procedure with their latency, for /metrics (router/services/counters.py), and remember the worker's
routers so /metrics can read their sessions, subscriptions and registrations when scraped.

Received: at Crossbar's RouterSession.onMessage, every message of every session (refused ones too).
Sent: at the `send` of Crossbar's WebSocket and RawSocket router protocols, wrapped last (after
fastsend and sendlimit), so every message handed to a client's transport counts once. Each wrap is
one dict increment and one call more per message; its cost is measured in docs/benchmarks.md
("What the guards and the metrics cost, in instructions").

Bytes: nothing per message. Autobahn's serializer of each connection already adds up the bytes it
serializes and parses; /metrics reads the open connections' counts, and a connection that closes
adds its own to counters.bytes_sent/bytes_received (RouterSession.onClose).

Calls: the dealer's processCall notes when a CALL arrived (one clock read and one dict entry); the
send that carries its answer to the caller (a final RESULT, or an ERROR for a CALL: the same wrapped
sends, and the in-memory transport of router components) looks up the invocation the dealer still
holds for it (a registration routed it) and counts it by procedure and outcome, timed; an answer with
no invocation is a refusal (no_such_procedure, not_authorized, a guard's). Other messages pay one
comparison. A caller that leaves takes its calls in flight with it (Dealer.detach).

Publications by subscription, for the dashboard's topic rates (router/services/admin.py): each
broker's subscription map becomes a CountingObservationMap, whose match_observations (what the broker
calls once per accepted publish, to find its subscriptions) adds one to every subscription it returns,
as an attribute of Crossbar's observation object, so the count goes when the subscription goes. One
call and one increment per matched subscription per publish, nothing per delivery: about 0.1 µs per
publish matching two subscriptions (timeit of match_observations, 1.64 -> 1.76 µs, on a busy 2-core
machine), beside the ~10 µs of router CPU each delivery takes. SWITCHBOARD_METRICS=0 turns it off
with the rest, so bench/router_instructions.py's comparison with the counting-off hub (`sb_no_metrics`)
includes it; the bench checks that the hubs with counting counted every publication and that one none.
"""

from __future__ import annotations

import time
import weakref

from autobahn.wamp import message
from switchboard.bridge import limits
from switchboard.router import settings as S
from switchboard.router.patches.workerproc import in_crossbar_worker
from switchboard.router.services import call_stats, counters

#: the worker's Crossbar routers (one per realm), for the collectors of router/services/metrics.py
routers: "weakref.WeakSet" = weakref.WeakSet()
_installed = False
#: whether messages, bytes and calls are counted (SWITCHBOARD_METRICS): /metrics leaves them out if not
counting_messages = False

RESULT, ERROR, CALL = message.Result.MESSAGE_TYPE, message.Error.MESSAGE_TYPE, message.Call.MESSAGE_TYPE
ANSWERS = frozenset((RESULT, ERROR))


def transport_kind(transport) -> str:
    """The kind of a session's transport: websocket, rawsocket, or router (a router component's)."""
    name = type(transport).__name__.lower()
    if "websocket" in name:
        return "websocket"
    if "rawsocket" in name:
        return "rawsocket"
    return "router"


def answered(session_id, router, msg, kind: int) -> None:
    """`msg` (a RESULT or an ERROR) went to session `session_id`: if it ends a call, count the call."""
    if kind == RESULT:
        if msg.progress:
            return
    elif msg.request_type != CALL:
        return
    key = (session_id, msg.request)
    dealer = getattr(router, "_dealer", None)
    invocation = dealer._invocations_by_call.get(key) if dealer is not None else None
    uri = invocation.registration.uri if invocation is not None else None
    if kind == RESULT:
        outcome = call_stats.RESULT
    else:
        outcome = call_stats.outcome_of_error(msg.error, invocation is not None)
    counters.calls.answered(key, uri, outcome, time.perf_counter_ns())


def _counted_send(send):
    sent = counters.sent

    def counted_send(self, msg):
        send(self, msg)
        kind = msg.MESSAGE_TYPE
        sent[kind] += 1  # after: a send that raised (transport gone) did not send
        if kind in ANSWERS:
            session = self._session
            answered(session._session_id, session._router, msg, kind)

    counted_send.__wrapped__ = send
    return counted_send


def install(force: bool = False) -> bool:
    """In a router worker (or with `force`), remember its routers and count messages; once. With
    SWITCHBOARD_METRICS=0 the messages are not counted (to measure what counting costs); the routers
    are remembered all the same (/metrics and /ready read them)."""
    global _installed
    if _installed or not (force or in_crossbar_worker()):
        return _installed
    from crossbar.router.router import Router

    router_init = Router.__init__

    def remembered_init(self, *args, **kwargs):
        router_init(self, *args, **kwargs)
        routers.add(self)

    Router.__init__ = remembered_init
    if S.runtime().metrics:
        _count_messages()
        _count_publications()
        _count_bytes()
        _count_calls()
    _installed = True
    return True


def _count_messages() -> None:
    global counting_messages
    from crossbar.router.protocol import WampRawSocketServerProtocol, WampWebSocketServerProtocol
    from crossbar.router.session import RouterSession

    received = counters.received
    on_message = RouterSession.onMessage

    def counted_on_message(self, msg):
        received[msg.MESSAGE_TYPE] += 1
        return on_message(self, msg)

    RouterSession.onMessage = counted_on_message
    # Crossbar's router transports only: the worker's own link to the node controller (over stdio) is
    # an Autobahn server protocol whose session is a client of the controller
    WampWebSocketServerProtocol.send = _counted_send(WampWebSocketServerProtocol.send)
    WampRawSocketServerProtocol.send = _counted_send(WampRawSocketServerProtocol.send)
    counting_messages = True


def serializer_bytes(transport) -> tuple[int, int] | None:
    """(sent, received) bytes of WAMP messages Autobahn's serializer of `transport` counted, or None
    (a router component's transport, or a connection before its WAMP handshake)."""
    serializer = getattr(transport, "_serializer", None)
    if serializer is None or not hasattr(serializer, "_serialized_bytes"):
        return None
    return serializer._serialized_bytes, serializer._unserialized_bytes


def _count_bytes() -> None:
    """A closing connection adds its serializer's byte counts to the closed connections' totals."""
    from crossbar.router.session import RouterSession

    on_close = RouterSession.onClose

    def counted_on_close(self, wasClean):
        transport = self._transport
        counted = serializer_bytes(transport)
        if counted is not None:
            kind = transport_kind(transport)
            counters.bytes_sent[kind] += counted[0]
            counters.bytes_received[kind] += counted[1]
        return on_close(self, wasClean)

    RouterSession.onClose = counted_on_close


def _count_calls() -> None:
    from crossbar.router.dealer import Dealer
    from crossbar.router.session import RouterApplicationSession

    calls = counters.calls
    calls.max_procedures = int(limits.value("metrics_procedures"))
    pending, clock = calls.pending, time.perf_counter_ns
    process_call, detach, app_send = Dealer.processCall, Dealer.detach, RouterApplicationSession.send

    def timed_process_call(self, session, call):
        pending[session._session_id, call.request] = clock()
        return process_call(self, session, call)

    def forgetting_detach(self, session):
        try:
            return detach(self, session)
        finally:
            calls.forget_session(session._session_id)

    def answering_app_send(self, msg):
        """A router component's in-memory transport, both ways: answers to its calls end them too."""
        app_send(self, msg)
        kind = msg.MESSAGE_TYPE
        if kind in ANSWERS:
            answered(self._session._session_id, self._router, msg, kind)

    Dealer.processCall = timed_process_call
    Dealer.detach = forgetting_detach
    RouterApplicationSession.send = answering_app_send


#: the attribute of a Crossbar subscription (UriObservation) that counts its publications
PUBLISHED = "switchboard_published"


def published(observation) -> int:
    """Publications the broker dispatched to subscription `observation` (0 when not counted)."""
    return getattr(observation, PUBLISHED, 0)


def _count_publications() -> None:
    from crossbar.router.broker import Broker
    from crossbar.router.observation import UriObservation, UriObservationMap

    class CountingObservationMap(UriObservationMap):
        """Crossbar's map, counting each publication on the subscriptions it matched. The same slots
        (none of its own), so an existing map can take this class in place."""

        __slots__ = ()

        def match_observations(self, uri):
            observations = UriObservationMap.match_observations(self, uri)
            for observation in observations:
                observation.switchboard_published += 1
            return observations

    # the default on the (slotted) base class; each subscription's own count lives in its __dict__,
    # which the match-specific subclasses have
    setattr(UriObservation, PUBLISHED, 0)
    broker_init = Broker.__init__

    def counting_init(self, *args, **kwargs):
        broker_init(self, *args, **kwargs)
        self._subscription_map.__class__ = CountingObservationMap

    Broker.__init__ = counting_init

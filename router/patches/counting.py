"""Count the WAMP messages the router worker receives and sends, by type, for /metrics
(router/services/counters.py), and remember the worker's routers so /metrics can read their sessions,
subscriptions and registrations when scraped.

Received: at Crossbar's RouterSession.onMessage, every message of every session (refused ones too).
Sent: at the `send` of Crossbar's WebSocket and RawSocket router protocols, wrapped last (after
fastsend and sendlimit), so every message handed to a client's transport counts once. Each wrap is
one dict increment and one call more per message; its cost is measured in docs/benchmarks.md
("What the guards and the metrics cost, in instructions").

Publications by subscription, for the dashboard's topic rates (router/services/admin.py): each
broker's subscription map becomes a CountingObservationMap, whose match_observations (what the broker
calls once per accepted publish, to find its subscriptions) adds one to every subscription it returns,
as an attribute of Crossbar's observation object, so the count goes when the subscription goes. One
call and one increment per matched subscription per publish, nothing per delivery: about 0.1 µs per
publish matching two subscriptions (timeit of match_observations, 1.64 -> 1.76 µs, on a busy 2-core
machine), beside the ~10 µs of router CPU each delivery takes; not yet in bench/router_instructions.py.
"""

from __future__ import annotations

import weakref

from switchboard.router import settings as S
from switchboard.router.patches.workerproc import in_crossbar_worker
from switchboard.router.services import counters

#: the worker's Crossbar routers (one per realm), for the collectors of router/services/metrics.py
routers: "weakref.WeakSet" = weakref.WeakSet()
_installed = False


def _counted_send(send):
    sent = counters.sent

    def counted_send(self, msg):
        send(self, msg)
        sent[msg.MESSAGE_TYPE] += 1  # after: a send that raised (transport gone) did not send

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
    _installed = True
    return True


def _count_messages() -> None:
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

"""Patches of Crossbar's, Autobahn's and Twisted's internals, each measured and tested on its own.

`install(role)` is the one call that applies them, made by Switchboard's worker classes when a
Crossbar worker process starts (router/node/workers.py); importing a module here changes nothing.

Every worker: lazy debug-log arguments (fastlog), what clients send checked before Crossbar acts on
it with the recursion limit back at CPython's (ingress), a bounded cache of authorization decisions
(authcache), HTTP bodies over the message size limit refused before they are read (httplimit), sends
at the end of each reactor turn (turnflush) as ready-made frames (fastsend), a WebSocket peer dropped
when its unsent bytes pass the send buffer (sendlimit), log records to the node controller one write
per turn (workerlog), and the startup heap and later long-lived objects kept out of full garbage
collections between periodic full passes (gcfreeze).

The router worker also: the client addresses trusted proxies forward (forwarded), connections
limited per client address (connlimit), a REGISTER authorized
before Crossbar looks at what is registered (dealer_order), and a history topic's PUBLISHED held
until the event is committed (durable_ack), the messages it receives and sends counted for
/metrics (counting), and on a cluster node its broker's events shared with the other nodes
(relay) and its calls to procedures registered on another node forwarded there (calls). A proxy
worker also reads the node key once rather than per session (proxykey), and says when it serves
every path of its web transport (proxyready).
"""

from __future__ import annotations

ROUTER = "router"
CONTAINER = "container"
PROXY = "proxy"


def install(role: str, reactor=None) -> None:
    """Apply every patch for a worker of `role` ("router", "container" or "proxy"). Each patch is
    installed once and honours its own switch (docs/benchmarks.md, "Tuning"; SWITCHBOARD_GUARDS)."""
    if role not in (ROUTER, CONTAINER, PROXY):
        raise ValueError(f"unknown worker role {role!r}")
    from switchboard.router import settings as S
    from switchboard.router.patches import (
        authcache,
        calls,
        connlimit,
        counting,
        dealer_order,
        durable_ack,
        fastlog,
        fastsend,
        forwarded,
        gcfreeze,
        httplimit,
        ingress,
        proxykey,
        proxyready,
        relay,
        sendlimit,
        turnflush,
        workerlog,
    )

    fastlog.install()
    ingress.install(force=True)
    authcache.install(force=True)
    httplimit.install(force=True)
    turnflush.install(force=True)
    fastsend.install(force=True)
    sendlimit.install(force=True)
    workerlog.install(reactor=reactor, force=True)
    if role in (ROUTER, PROXY):
        forwarded.install(force=True)  # before connlimit, which counts trusted proxies' clients through it
    if role == PROXY or (role == ROUTER and not S.runtime().proxy_workers):
        # the workers that own the public port (router/node/layout.py): behind proxies, the router's
        # web transport takes only their forwarded HTTP requests, all from 127.0.0.1
        connlimit.install(reactor=reactor, force=True)
    if role == ROUTER:
        dealer_order.install(force=True)
        durable_ack.install(force=True)
        counting.install(force=True)  # after fastsend and sendlimit: it wraps the send they leave
        relay.install(force=True)  # only on a cluster node (SWITCHBOARD_REDIS_URL)
        calls.install(force=True)  # after relay: a cluster node's calls to procedures on other nodes
    if role == PROXY:
        proxykey.install()
        proxyready.install()
    gcfreeze.freeze_startup_heap(force=True)
    gcfreeze.keep_long_lived_frozen(reactor=reactor)

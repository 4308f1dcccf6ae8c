"""Per-client-address connection limits on the public web transport (page, /ws, /bridge).

One address (a script, a scan, a broken client reconnecting in a loop) must not take every socket
and handshake of the router's one process. Crossbar already caps each listening port's open
connections (`max_connections`, its outermost factory, `MaxConnectionsFactory`); here that factory
of the web transport only (not the loopback backend RawSocket that trusted components use) also
counts connections per client address (switchboard.bridge.ratelimit.AddressTable): a connection over
SWITCHBOARD_CONNECTIONS_PER_IP open ones or over SWITCHBOARD_CONNECTS_PER_SECOND_PER_IP is
aborted right after accept, before any byte is read, TLS or HTTP included. A connection from a
trusted reverse proxy (SWITCHBOARD_TRUSTED_PROXIES) is counted instead against the client its first
request's X-Forwarded-For names, once the headers are read, and refused with a 429
(router/patches/forwarded.py). Its protocol stays the
outermost one on the socket (a WebSocket upgrade replaces only what it wraps), so every close is
seen and released.

Refusals are logged as one warning per address per 10 s with their count; a sweep every second
reports them and drops addresses left with no connection and a full bucket, so the table holds
only live addresses. Limits are read once, at install; SWITCHBOARD_GUARDS=0 (the bench's unguarded
variant) leaves all of this out.
"""

from __future__ import annotations

import time

from switchboard.bridge import limits
from switchboard.bridge.ratelimit import OVER_OPEN, OVER_RATE, AddressTable
from switchboard.router import settings as S
from switchboard.router.patches import forwarded
from switchboard.router.patches.workerproc import in_crossbar_worker
from switchboard.router.services import counters
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

#: a burst of this many seconds' worth of the connect rate
BURST_SECONDS = 5.0
#: seconds between sweeps (refusal reports, dropping idle addresses)
SWEEP_SECONDS = 1.0
#: seconds one refusal report covers
LOG_SECONDS = 10.0
#: the transports limited (by id in .crossbar/config.json)
LIMITED_TRANSPORTS = frozenset({S.WEB_TRANSPORT_ID})

_table: AddressTable | None = None
log = Logger()


def client_address(addr) -> str:
    """The address a connection counts against at accept: its TCP peer. A trusted proxy's connections
    (SWITCHBOARD_TRUSTED_PROXIES) count against the client they forward, once their request's headers
    are read (router/patches/forwarded.py, `admit_forwarded`)."""
    return getattr(addr, "host", None) or str(addr)


def _counted_connection(transport):
    """The outermost (counted) protocol of the connection an HTTP channel writes to via `transport`:
    the TCP transport's protocol, one TLS layer down where the channel writes through TLS."""
    for _ in range(2):
        connection = getattr(transport, "protocol", None)
        if getattr(connection, "awaiting_client", False):
            return connection
        transport = getattr(transport, "transport", None)
    return None


def factory_class(endpoint):
    """Crossbar's outermost listening factory with per-address limits checked before its own cap
    (built on first use: crossbar is imported only where it runs, not by standalone components)."""
    stock = endpoint.MaxConnectionsFactory

    class AddressedConnection(endpoint._CountedConnection):
        """Crossbar's counted connection, remembering the client address it was admitted under."""

        address: str | None = None
        #: from a trusted proxy: admitted once its first request names the client (admit_forwarded)
        awaiting_client = False

    class PerAddressFactory(stock):
        protocol = AddressedConnection

        def __init__(self, wrappedFactory, max_connections, name, reactor, log, table: AddressTable):
            stock.__init__(self, wrappedFactory, max_connections, name, reactor, log)
            self.table = table

        def buildProtocol(self, addr):
            address = client_address(addr)
            if forwarded.trusted(address):
                protocol = stock.buildProtocol(self, addr)
                if isinstance(protocol, AddressedConnection):
                    protocol.awaiting_client = True
                return protocol
            over = self.table.admit(address)
            if over is not None:
                counters.refused[REFUSAL_REASONS[over]] += 1
                refused = endpoint._RefusedConnection()
                refused.factory = self
                return refused
            protocol = stock.buildProtocol(self, addr)
            if isinstance(protocol, AddressedConnection):
                protocol.address = address
            else:  # refused by the port's own cap
                self.table.release(address)
            return protocol

        def unregisterProtocol(self, p):
            stock.unregisterProtocol(self, p)
            if p.address is not None:
                self.table.release(p.address)
                p.address = None

    return PerAddressFactory


#: what /metrics names a refused connection by: the limit it passed (bridge/limits.py)
REFUSAL_REASONS = {OVER_OPEN: "connections_per_ip", OVER_RATE: "connects_per_second_per_ip"}


def refusal_message(over: str, client: str, max_open: int, rate: float) -> str:
    """What a proxied client refused by a per-address limit is told (HTTP 429)."""
    if over == OVER_OPEN:
        return f"{client} has {max_open} open connections ({limits.LIMITS['connections_per_ip'].env})"
    env = limits.LIMITS["connects_per_second_per_ip"].env
    return f"{client} opens more than {rate:g} new connections/s ({env})"


def admitter(table: AddressTable, max_open: int, rate: float):
    """forwarded.admit: a trusted proxy's connection counted against the client its first request
    names, or refused (the message for the 429, the refusal counted and reported like any other)."""

    def admit_forwarded(transport, client: str) -> str | None:
        connection = _counted_connection(transport)
        if connection is None:  # counted already (a later request on the connection), or not limited
            return None
        connection.awaiting_client = False
        over = table.admit(client)
        if over is not None:
            counters.refused[REFUSAL_REASONS[over]] += 1
            return refusal_message(over, client, max_open, rate)
        connection.address = client
        return None

    return admit_forwarded


def report(refusals, max_open: int, rate: float) -> None:
    """One warning line for one address's refusals in one window."""
    reasons = []
    if refusals.over_open:
        env = limits.LIMITS["connections_per_ip"].env
        reasons.append(f"{refusals.over_open} at {max_open} open connections ({env})")
    if refusals.over_rate:
        env = limits.LIMITS["connects_per_second_per_ip"].env
        reasons.append(f"{refusals.over_rate} over {rate:g} new connections/s ({env})")
    log.warn(
        "refused {count} connection(s) from {address} in {seconds:.0f} s: {reasons}",
        count=refusals.over_open + refusals.over_rate,
        address=refusals.address,
        seconds=LOG_SECONDS,
        reasons="; ".join(reasons),
    )


def install(reactor=None, force: bool = False, env=None, clock=time.monotonic) -> AddressTable | None:
    """In a Crossbar worker (or with `force`), limit connections per client address on the web
    transport: called for the router worker only (router/patches/__init__.py). Returns the address
    table, or None where nothing is installed (not a worker, both limits 0, or SWITCHBOARD_GUARDS=0)."""
    global _table
    if _table is not None:
        return _table
    if not (force or in_crossbar_worker()) or not S.guards_on(env):
        return None
    max_open = int(limits.value("connections_per_ip", env))
    rate = limits.value("connects_per_second_per_ip", env)
    if max_open == 0 and rate == 0:
        return None
    from crossbar.common.twisted import endpoint

    if reactor is None:
        from twisted.internet import reactor
    table = AddressTable(max_open, rate, max(1.0, rate * BURST_SECONDS), clock=clock, log_interval=LOG_SECONDS)
    stock, limited = endpoint.MaxConnectionsFactory, factory_class(endpoint)

    def listening_factory(wrapped, max_connections, name, reactor, log):
        if name in LIMITED_TRANSPORTS:
            return limited(wrapped, max_connections, name, reactor, log, table)
        return stock(wrapped, max_connections, name, reactor, log)

    def sweep():
        for refusals in table.sweep():
            report(refusals, max_open, rate)

    endpoint.MaxConnectionsFactory = listening_factory
    forwarded.admit = admitter(table, max_open, rate)
    sweeper = LoopingCall(sweep)
    sweeper.clock = reactor
    sweeper.start(SWEEP_SECONDS, now=False)
    _table = table
    return table

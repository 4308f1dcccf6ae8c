"""Client addresses forwarded by a trusted reverse proxy: the per-address limits and the session's peer.

Behind nginx every connection's TCP peer is the proxy. With SWITCHBOARD_TRUSTED_PROXIES set, a
request on the web transport from one of those peers counts as the client its X-Forwarded-For
names (bridge/forwarded.py picks the hop): once its headers are read (Twisted's
HTTPChannel.allHeadersReceived), before the request is routed, the per-address connection limits
(router/patches/connlimit.py, which leaves such connections uncounted at accept) admit the
connection under the client's address, or answer it 429 with the limit's name and close it; and a
WebSocket session on it gets the client as its transport's `peer` (wamp.session.get, the admin
dashboard, Crossbar's log lines), in place of the proxy's `tcp4:127.0.0.1:PORT`.

One connection from the proxy is one client: the nginx site of docs/deploy.md closes its upstream
connections after each plain request (`Connection: close`) and a WebSocket holds its own. A
connection is admitted under its first request's client only.

Unset (the default), nothing is installed and X-Forwarded-For is never read: any client can write
it. Cost, only with trusted proxies: one address parse per HTTP request from a trusted peer and a
dictionary lookup per WebSocket connection.
"""

from __future__ import annotations

import json
import weakref
from typing import Callable

from switchboard.bridge import forwarded, uris
from switchboard.router import settings as S
from switchboard.router.patches.httplimit import LINGER_SECONDS
from switchboard.router.patches.workerproc import in_crossbar_worker

#: connlimit's admission of a proxied connection: (the channel's transport, client) -> None to let
#: it in, else the refusal's message (set by router/patches/connlimit.py when its limits are on)
admit: Callable[[object, str], str | None] | None = None

_trusted: tuple = ()
#: the client of each live proxied connection, by the transport its HTTP channel (then its
#: WebSocket, which takes the same transport over) writes to
_clients: "weakref.WeakKeyDictionary[object, str]" = weakref.WeakKeyDictionary()
_installed = False


def trusted(peer: str) -> bool:
    """Whether TCP peer address `peer` is a trusted proxy (False while nothing is installed)."""
    return forwarded.is_trusted(peer, _trusted)


def client_of(transport) -> str | None:
    """The forwarded client of the connection on `transport`, if its proxy named one."""
    return _clients.get(transport)


def refuse(channel, message: str) -> None:
    """Answer 429 on `channel` with `message` and close it; nothing more of it is routed."""
    body = json.dumps({"error": uris.LIMIT_EXCEEDED, "message": message}).encode()
    channel.transport.write(
        b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    channel.dataReceived = channel.rawDataReceived = channel.lineReceived = _drop
    channel.allContentReceived = _nothing
    from twisted.internet import reactor

    # read and dropped for a while first, as httplimit does, so the proxy's unsent body does not reset the 429
    reactor.callLater(LINGER_SECONDS, channel.loseConnection)


def _drop(data: bytes) -> None:
    """A refused connection's further bytes."""


def _nothing() -> None:
    """A refused request is never routed."""


def _peer_host(transport) -> str | None:
    try:
        return transport.getPeer().host
    except AttributeError:  # a unix socket's peer has no host
        return None


def install(force: bool = False, env=None) -> bool:
    """In a Crossbar worker (or with `force`), honour X-Forwarded-For from SWITCHBOARD_TRUSTED_PROXIES:
    called for the router worker only. Returns whether anything was installed (not with no proxies)."""
    global _installed, _trusted
    if _installed:
        return True
    if not (force or in_crossbar_worker()):
        return False
    trusted_proxies = S.runtime().trusted_proxies if env is None else S.trusted_proxies(env)
    if not trusted_proxies:
        return False
    from autobahn.twisted import websocket
    from twisted.web import http

    _trusted = trusted_proxies
    previous_headers = http.HTTPChannel.allHeadersReceived
    previous_made = websocket.WebSocketServerProtocol.connectionMade

    def all_headers_received(self) -> None:
        peer = _peer_host(self.transport)
        if peer is not None and forwarded.is_trusted(peer, _trusted):
            values = self.requests[-1].requestHeaders.getRawHeaders(b"x-forwarded-for", [])
            client = forwarded.client_address(peer, [v.decode("latin-1") for v in values], _trusted)
            _clients[self.transport] = client
            refusal = admit(self.transport, client) if admit is not None else None
            if refusal is not None:
                refuse(self, refusal)
                return
        previous_headers(self)

    def connection_made(self) -> None:
        previous_made(self)
        client = _clients.get(self.transport)
        if client is not None:
            kind = "tcp6" if ":" in client else "tcp4"
            self.peer = self._transport_details.peer = f"{kind}:{client}"

    http.HTTPChannel.allHeadersReceived = all_headers_received
    websocket.WebSocketServerProtocol.connectionMade = connection_made
    _installed = True
    return True

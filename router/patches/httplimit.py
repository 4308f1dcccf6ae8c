"""Refuse an HTTP request body over the message size limit as soon as it is announced or passed.

Twisted's HTTP server reads any request body whole (into memory, or a temporary file past 100 KB)
before a resource sees it: a request announcing `Content-Length: 99999999999` with a tiny body got
no status line at all (the server waited for the rest), and a client could trickle gigabytes onto
the router's disk, or stream them with chunked encoding. The hub's web transport serves the page,
/info, /ws (an upgrade, no body) and the HTTP bridge (bodies up to SWITCHBOARD_MAX_MESSAGE_SIZE), so
no request has a use for a larger body: one announced larger is answered 413 before it is read, and
one that grows past the limit (chunked) is answered 413 when it does. The connection is then read,
and what arrives dropped, for LINGER_SECONDS before it is closed (nginx's lingering close): closed at
once, with the client still sending its body, the unread bytes made the kernel reset the connection,
and the client often lost the 413 it had been sent.
"""

from __future__ import annotations

import json

from switchboard.bridge import limits
from switchboard.bridge import protocol as P
from switchboard.router import settings as S
from switchboard.router.patches.workerproc import in_crossbar_worker
from switchboard.router.services import counters
from twisted.web import http

#: seconds a refused connection is still read (and what arrives dropped) before it is closed
LINGER_SECONDS = 2.0

_limit = 0
_stock_all_headers_received = http.HTTPChannel.allHeadersReceived
_stock_handle_content_chunk = http.Request.handleContentChunk
_installed = False


def refuse_too_large(channel, size: int | None) -> None:
    """Answer 413 on `channel` and close it after LINGER_SECONDS; the rest of the body is dropped."""
    counters.refused[P.TOO_LARGE] += 1
    told = f"{size} bytes" if size is not None else "a body"
    body = json.dumps(
        {
            "error": P.TOO_LARGE,
            "message": f"{told} over the limit of {_limit} bytes ({limits.LIMITS['max_message_size'].env})",
        }
    ).encode()
    channel.transport.write(
        b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    # the rest of the body is read and dropped, never parsed (the line parser may be mid-buffer)
    channel.dataReceived = channel.rawDataReceived = channel.lineReceived = _drop
    from twisted.internet import reactor

    # through the channel, which unregisters itself as the transport's producer first (a TLS
    # transport would not close while a producer is registered)
    reactor.callLater(LINGER_SECONDS, channel.loseConnection)


def _drop(data: bytes) -> None:
    """A refused connection's further bytes: read, so the client can finish sending and read the 413."""


def _all_headers_received(self) -> None:
    if self.length is not None and self.length > _limit:
        refuse_too_large(self, self.length)
        return
    _stock_all_headers_received(self)


def _handle_content_chunk(self, data: bytes) -> None:
    received = self.__dict__.get("_sb_received", 0) + len(data)
    self._sb_received = received
    if received > _limit:
        if not self.__dict__.get("_sb_refused"):
            self._sb_refused = True
            refuse_too_large(self.channel, None)
        return
    _stock_handle_content_chunk(self, data)


def install(force: bool = False) -> bool:
    """In a Crossbar worker (or with `force`), bound every HTTP request body by the message size limit."""
    global _installed, _limit
    if _installed:
        return True
    if not (force or in_crossbar_worker()) or not S.guards_on():
        return False
    _limit = int(limits.value("max_message_size"))
    http.HTTPChannel.allHeadersReceived = _all_headers_received
    http.Request.handleContentChunk = _handle_content_chunk
    _installed = True
    return True

"""Send what one reactor turn wrote to a client at the end of that turn, instead of a turn later.

Twisted's TCP transport never sends from `write()`: it buffers the bytes, registers the socket for
writability (an `epoll_ctl`), and sends when the next `epoll_wait` reports the socket writable, then
unregisters it (another `epoll_ctl`). A router delivering one event to N subscribers so pays, beside
the N sends, 2N `epoll_ctl` calls, N writability events and N passes through the reactor's
per-descriptor dispatch, and the event waits for one more poll before it leaves. At moderate rates,
where each event is its own turn, that bookkeeping was a fifth of the router's CPU per delivery
(docs/benchmarks.md, Tuning, item 8).

Here the first write of a turn to an accepted connection queues the connection, and one call at the
end of the turn (`reactor.callLater(0)`, run before the reactor polls again) sends each queued
connection's buffer. Writes of one turn to one socket still leave in one send; what the kernel does
not take is left to the reactor exactly as before, and a failed send takes the reactor's own
disconnect path. Only accepted connections (`tcp.Server`, which `unix.Server` extends) change:
outgoing connections use `doWrite` to finish connecting.

The common case, a whole buffer the kernel takes at once on a connection without a pending close
or a producer waiting to be resumed, is sent here directly (`send_buffer`) rather than through the
transport's `doWrite`, and `write` appends a router's message to such a connection's buffer
without `transport.write`'s checks: at moderate rates each delivery is its own send, and the
Python around it was about a fifth of the router's time per delivery (docs/benchmarks.md, Tuning,
item 10). Anything else takes Twisted's own code.
"""

from __future__ import annotations

import errno

from switchboard.router import settings as S
from switchboard.router.patches.workerproc import in_crossbar_worker
from twisted.internet import main, tcp
from twisted.python import log

_stock_start_writing = tcp.Server.startWriting
_stock_stop_writing = tcp.Server.stopWriting

#: connections written to in this turn, in the order of their first write (a dict keeps order)
_queued: dict[tcp.Server, None] = {}
_flush_scheduled = False
_installed = False


def _start_writing(self: tcp.Server) -> None:
    """Queue the connection for the end of this turn, unless the reactor already waits to write it."""
    global _flush_scheduled
    if self._sb_polling_writable or self in _queued:
        return
    if not self.connected or self.disconnected or self._aborting:
        _stock_start_writing(self)
        return
    _queued[self] = None
    if not _flush_scheduled:
        _flush_scheduled = True
        self.reactor.callLater(0, flush_turn_writes, self.reactor)


def _stop_writing(self: tcp.Server) -> None:
    _queued.pop(self, None)
    self._sb_polling_writable = False
    _stock_stop_writing(self)


def flush_turn_writes(reactor) -> None:
    """Send each queued connection's buffer; leave what the kernel did not take to the reactor."""
    global _flush_scheduled
    _flush_scheduled = False
    connections = list(_queued)
    _queued.clear()
    for connection in connections:
        if connection.disconnected or connection._aborting:
            continue
        try:
            _send(connection, reactor)
        except BaseException:  # e.g. a protocol's connectionLost failed: the other connections still send
            log.err(None, "sending a connection's writes at the end of the turn")


def write(transport, data: bytes) -> None:
    """`transport.write(data)` for bytes, shorter where it can be: on an open accepted TCP connection
    without TLS, append to its buffer (pausing a streaming producer, such as the HTTP channel a
    WebSocket was upgraded from, when the buffer is full, as `write` does) and queue it for the end
    of the turn."""
    if (
        _installed
        and type(transport) is tcp.Server
        and transport.connected
        and not transport.TLS
        and not transport._writeDisconnected
        and data
    ):
        transport._tempDataBuffer.append(data)
        transport._tempDataLen += len(data)
        if transport.producer is not None:
            transport._maybePauseProducer()
        _start_writing(transport)
    else:
        transport.write(data)


def send_buffer(connection: tcp.Server, reactor) -> bool:
    """Send a queued connection's whole buffer in one `send()` (what `doWrite` does, without its
    general bookkeeping), if it is the common case: nothing left over from an earlier send, within
    one send's limit, no producer to resume (none, or a streaming one not paused: the HTTP channel
    of an upgraded WebSocket), no close waiting for the buffer. What the kernel does not take waits
    for writability, a failed send drops the connection as the reactor would. Returns False (nothing
    done) for any other case."""
    size = connection._tempDataLen
    producer = connection.producer
    if (
        connection.offset != len(connection.dataBuffer)
        or not 0 < size <= connection.SEND_LIMIT
        or connection.disconnecting
        or connection._writeDisconnecting
        or (producer is not None and (connection.producerPaused or not connection.streamingProducer))
    ):
        return False
    chunks = connection._tempDataBuffer
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    connection._tempDataBuffer = []
    connection._tempDataLen = 0
    try:
        sent = connection.socket.send(data)
    except OSError as e:
        if e.errno not in (errno.EWOULDBLOCK, errno.ENOBUFS):
            connection.dataBuffer, connection.offset = data, 0
            reactor._disconnectSelectable(connection, main.CONNECTION_LOST, False)
            return True
        sent = 0
    if sent < size:
        connection.dataBuffer, connection.offset = data, sent
        _wait_for_writability(connection)
    return True


def _send(connection: tcp.Server, reactor) -> None:
    if send_buffer(connection, reactor):
        return
    try:
        why = connection.doWrite()
    except BaseException as e:  # as the reactor treats a failing doWrite: log it, drop the connection
        why = e
        log.err()
    if why:
        reactor._disconnectSelectable(connection, why, False)
    elif connection._tempDataLen or connection.offset < len(connection.dataBuffer):
        _wait_for_writability(connection)


def _wait_for_writability(connection: tcp.Server) -> None:
    """What the kernel did not take is sent by the reactor when the socket is writable again."""
    connection._sb_polling_writable = True
    _stock_start_writing(connection)


def install(force: bool = False) -> bool:
    """In a Crossbar worker (or with `force`), make accepted connections send at the end of the turn.
    Returns whether it is (now) installed; SWITCHBOARD_TURN_FLUSH=0 keeps Twisted's own write path."""
    global _installed
    if _installed:
        return True
    if not (force or in_crossbar_worker()) or not S.runtime().turn_flush:
        return False
    tcp.Server._sb_polling_writable = False
    tcp.Server.startWriting = _start_writing
    tcp.Server.stopWriting = _stop_writing
    _installed = True
    return True

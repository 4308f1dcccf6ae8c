"""Drop a slow consumer: a connection whose unsent bytes pass the `send_buffer` limit.

Twisted buffers whatever a protocol writes and the kernel does not take, without bound, and a WAMP
router pushes events whether or not the peer reads them. A subscriber that stopped reading (while
sending a frame now and then, which keeps Autobahn's auto-ping satisfied) grew the router by 183-240
MB while 200k events of 1 KB were published, and slowed every other subscriber. Here each WAMP
message to a peer first checks what that peer's transport still holds; past the limit
(SWITCHBOARD_SEND_BUFFER, bridge/limits.py) the buffered bytes are released and the connection is
aborted at once, with one log line. Its session then leaves the realm as any lost connection does
(presence drops it). No close reason can reach a peer that does not read: the abort is the answer.

A message is still queued while the buffer is under the limit, so a connection holds at most the
limit plus one message.
"""

from __future__ import annotations

from autobahn.wamp.websocket import WampWebSocketProtocol
from switchboard.bridge import limits
from switchboard.router import settings as S
from switchboard.router.patches.workerproc import in_crossbar_worker
from switchboard.router.services import counters
from twisted.logger import Logger

log = Logger(namespace="switchboard.sendlimit")

_limit = 0
_installed = False


def pending_bytes(transport) -> int:
    """Bytes written to `transport` that the kernel has not taken yet (a TLS transport's too)."""
    total = 0
    while transport is not None:
        buffer = getattr(transport, "dataBuffer", None)
        if buffer is not None:  # a Twisted FileDescriptor (tcp, unix)
            return total + len(buffer) - transport.offset + transport._tempDataLen
        total += sum(map(len, getattr(transport, "_appSendBuffer", ())))  # TLS waiting for its handshake
        transport = getattr(transport, "transport", None)
    return total


def _release(transport) -> None:
    while transport is not None:
        if getattr(transport, "dataBuffer", None) is not None:
            transport.dataBuffer, transport.offset = b"", 0
            transport._tempDataBuffer, transport._tempDataLen = [], 0
            return
        transport = getattr(transport, "transport", None)


def drop(protocol, pending: int) -> None:
    """Release what `protocol`'s transport holds and abort the connection (once)."""
    transport = protocol.transport
    if transport is None or getattr(protocol, "_sb_dropped", False):
        return  # already being aborted (its buffer was released: a few messages may queue until it goes)
    protocol._sb_dropped = True
    counters.dropped["slow_consumer"] += 1
    log.warn(
        "slow consumer {peer} dropped: {pending} bytes unsent, over the send buffer limit of {limit} ({env})",
        peer=getattr(protocol, "peer", "?"),
        pending=pending,
        limit=_limit,
        env=limits.LIMITS["send_buffer"].env,
    )
    _release(transport)
    transport.abortConnection()


def _guarded(send):
    def guarded_send(self, msg):
        transport = self.transport
        try:  # a tcp or unix connection, inline: this runs for every delivery
            pending = transport._tempDataLen + len(transport.dataBuffer) - transport.offset
        except AttributeError:
            pending = pending_bytes(transport)
        if pending > _limit:
            drop(self, pending)
            return
        send(self, msg)

    guarded_send.__doc__ = send.__doc__
    guarded_send.__wrapped__ = send
    return guarded_send


def install(force: bool = False) -> bool:
    """In a Crossbar worker (or with `force`), check the send buffer before every WAMP message sent
    over WebSocket, the public transport (RawSocket is the loopback transport of trusted backend
    components). Install after router/patches/fastsend.py (it wraps whatever `send` is then)."""
    global _installed, _limit
    if _installed:
        return True
    if not (force or in_crossbar_worker()) or not S.guards_on():
        return False
    _limit = int(limits.value("send_buffer"))
    WampWebSocketProtocol.send = _guarded(WampWebSocketProtocol.send)
    _installed = True
    return True

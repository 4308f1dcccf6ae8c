"""Send each WAMP message to a WebSocket peer as one ready-made frame.

For every message to every WebSocket peer, Autobahn's `WampWebSocketProtocol.send` first builds five
highlighted values for a trace-log call that is dropped at any level but trace; then `sendMessage`
checks its arguments, `sendFrame` builds the frame, and `sendData` builds values for a debug-log
call. That was about 10 µs of the router's 18 µs of CPU per delivered event (docs/benchmarks.md,
Tuning, item 9). Crossbar hands the same message object to every subscriber of an event, and
Autobahn serializes it once per serializer, so every peer on that serializer gets the same frame:
Autobahn's broadcast API (`PreparedMessage`) builds it once here, and each peer's transport gets the
frame (through `switchboard.router.patches.turnflush.write`: `transport.write` where the turn flush is off), with the
traffic counters Crossbar reports kept as `sendMessage` keeps them.

Only the plain case takes this path: a server connection that is open, not compressing, not masking,
fragmenting or logging frames, and a message within the size limit. Anything else goes through
Autobahn's `sendMessage` exactly as before.
"""

from __future__ import annotations

from autobahn.wamp.exception import SerializationError, TransportLost
from autobahn.wamp.websocket import WampWebSocketProtocol
from autobahn.websocket.protocol import PreparedMessage, WebSocketProtocol
from switchboard.router import settings as S
from switchboard.router.patches import turnflush
from switchboard.router.patches.workerproc import in_crossbar_worker
from txaio import tx

STATE_OPEN = WebSocketProtocol.STATE_OPEN
#: frames of the last few payloads (a fan-out sends one payload per serializer to every subscriber)
FRAME_CACHE_SIZE = 8
_frames: dict[int, tuple[bytes, bool, bytes]] = {}
_installed = False


def frame_for(payload: bytes, is_binary: bool) -> bytes:
    """The unmasked, uncompressed single WebSocket frame carrying `payload`, built once per payload."""
    hit = _frames.get(id(payload))
    if hit is not None and hit[0] is payload and hit[1] is is_binary:
        return hit[2]
    frame = PreparedMessage(payload, is_binary, False, True).payloadHybi
    if len(_frames) >= FRAME_CACHE_SIZE:
        _frames.clear()
    _frames[id(payload)] = (payload, is_binary, frame)
    return frame


def sends_ready_frames(proto, size: int) -> bool:
    """Whether a message of `size` bytes goes to this peer as a ready frame (else: sendMessage)."""
    return (
        proto.state == STATE_OPEN
        and proto.factory.isServer
        and not proto.maskServerFrames
        and proto._perMessageCompress is None
        and not proto.trackedTimings
        and not proto.logFrames
        and not proto.logOctets
        and not 0 < proto.maxMessagePayloadSize < size
        and not 0 < proto.autoFragmentSize < size
    )


def send(self, msg) -> None:
    """`WampWebSocketProtocol.send`: the same messages on the wire, the same errors for a closed
    transport and for a message that cannot be serialized, without the trace-log arguments."""
    if not self.isOpen():
        raise TransportLost()
    try:
        payload, is_binary = self._serializer.serialize(msg)
    except Exception as e:
        self.log.error("WAMP message serialization error: {error}", error=e)
        raise SerializationError(f"WAMP message serialization error: {e}") from e
    size = len(payload)
    if not sends_ready_frames(self, size):
        self.sendMessage(payload, is_binary)
        return
    frame = frame_for(payload, is_binary)
    stats = self.trafficStats
    stats.outgoingWebSocketMessages += 1
    stats.outgoingOctetsAppLevel += size
    stats.outgoingOctetsWebSocketLevel += size
    stats.outgoingWebSocketFrames += 1
    if self.send_queue:  # chopped or synchronous writes are waiting: queue behind them
        self.sendData(frame)
    else:
        turnflush.write(self.transport, frame)
        stats.outgoingOctetsWireLevel += len(frame)


def install(force: bool = False) -> bool:
    """In a Crossbar worker (or with `force`), send WAMP messages to WebSocket peers as ready frames.
    Not at log level trace (its messages are kept), nor with SWITCHBOARD_FAST_SEND=0."""
    global _installed
    if _installed:
        return True
    if not (force or in_crossbar_worker()) or not S.runtime().fast_send or tx.get_global_log_level() == "trace":
        return False
    WampWebSocketProtocol.send = send
    _installed = True
    return True

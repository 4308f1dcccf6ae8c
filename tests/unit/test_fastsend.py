"""switchboard.router.patches.fastsend: a WAMP message reaches a WebSocket peer as the same bytes, with the same traffic
counters and the same errors, as through Autobahn's own send; what the ready frame cannot do still
goes through Autobahn. Each check runs in a fresh interpreter on Twisted, as a Crossbar worker does
(the change lasts for the life of a process)."""

import textwrap

import pytest
from switchboard.router import settings as S

from tests.fresh_python import run_code

PRELUDE = """
import txaio
txaio.use_twisted()
from twisted.internet.testing import StringTransport
from autobahn.twisted.websocket import WampWebSocketServerFactory, WampWebSocketServerProtocol
from autobahn.wamp import message, serializer
from autobahn.websocket.protocol import WebSocketProtocol
from switchboard.router.patches import fastsend

STOCK_SEND = WampWebSocketServerProtocol.send
assert fastsend.install(force=True)
assert WampWebSocketServerProtocol.send is fastsend.send


class Session:
    _authid, _session_id = "anonymous", 42


def peer(ser, state=WebSocketProtocol.STATE_OPEN, logFrames=False, **options):
    '''A server-side WAMP WebSocket connection in `state`, writing to a StringTransport.'''
    factory = WampWebSocketServerFactory(lambda: None, serializers=[ser])
    if options:
        factory.setProtocolOptions(**options)
    proto = factory.buildProtocol(None)
    proto.makeConnection(StringTransport())
    proto.state, proto._perMessageCompress, proto.logFrames = state, None, logFrames
    proto._session, proto._serializer = Session(), ser
    proto.transport.clear()
    return proto


def outcome(send, msg, ser, **peer_options):
    '''What one send does: the bytes written and the traffic counters, or the exception's name.'''
    proto = peer(ser, **peer_options)
    try:
        send(proto, msg)
    except Exception as e:
        return type(e).__name__
    return proto.transport.value(), dict(vars(proto.trafficStats))


def same(msg, ser, **peer_options):
    fast, stock = outcome(fastsend.send, msg, ser, **peer_options), outcome(STOCK_SEND, msg, ser, **peer_options)
    assert fast == stock, (fast, stock)
    return fast


SERIALIZERS = (serializer.MsgPackSerializer(), serializer.JsonSerializer())
"""


def run(code: str, **env) -> None:
    run_code(PRELUDE + textwrap.dedent(code), unset=(S.ENV_FAST_SEND,), **env)


@pytest.mark.parametrize("payload_bytes", [0, 100, 200, 70_000])  # each WebSocket length encoding
def test_the_same_bytes_and_counters_as_autobahn(payload_bytes):
    run(f"""
        for ser in SERIALIZERS:
            event = message.Event(7, 8, args=[{{"t": 1, "p": "x" * {payload_bytes}}}])
            wire, stats = same(event, ser)
            assert stats["outgoingWebSocketMessages"] == 1 and stats["outgoingOctetsWireLevel"] == len(wire)
    """)


def test_one_frame_per_payload_for_every_subscriber():
    run("""
        event = message.Event(7, 8, args=["hello"])
        first, second = peer(SERIALIZERS[0]), peer(SERIALIZERS[0])
        fastsend.send(first, event)
        fastsend.send(second, event)
        payload, is_binary = SERIALIZERS[0].serialize(event)
        assert fastsend.frame_for(payload, is_binary) is fastsend.frame_for(payload, is_binary)
        assert first.transport.value() == second.transport.value() == fastsend.frame_for(payload, is_binary)
    """)


def test_the_same_errors_as_autobahn():
    run("""
        unserializable = message.Publish(1, "bench.t", args=[object()])
        event = message.Event(7, 8, args=["hello"])
        for ser in SERIALIZERS:
            assert same(unserializable, ser) == "SerializationError"
            assert same(event, ser, state=WebSocketProtocol.STATE_CLOSING) == "Disconnected"
            closed = peer(ser)
            closed._session = None
            for send in (fastsend.send, STOCK_SEND):
                try:
                    send(closed, event)
                except Exception as e:
                    assert type(e).__name__ == "TransportLost"
                else:
                    raise AssertionError("sent on a closed transport")
    """)


def test_what_a_ready_frame_cannot_do_goes_through_autobahn():
    run("""
        big = message.Event(7, 8, args=["x" * 5000])
        for ser in SERIALIZERS:
            size = len(ser.serialize(big)[0])
            assert fastsend.sends_ready_frames(peer(ser), size)
            for options in (dict(autoFragmentSize=1000), dict(logFrames=True), dict(maxMessagePayloadSize=1000)):
                assert not fastsend.sends_ready_frames(peer(ser, **options), size), options
                same(big, ser, **options)  # fragmented; logged; refused as too big
            # masked: a random mask per frame, so compare the shape
            assert not fastsend.sends_ready_frames(peer(ser, maskServerFrames=True), size)
            fast, stock = (outcome(send, big, ser, maskServerFrames=True) for send in (fastsend.send, STOCK_SEND))
            assert len(fast[0]) == len(stock[0]) and fast[0][:2] == stock[0][:2] and fast[1] == stock[1]
    """)


def test_queued_writes_stay_in_order():
    run("""
        proto = peer(SERIALIZERS[0])
        proto.sendData(b"chopped!!", chopsize=3)  # Autobahn writes the first piece, queues the rest
        event = message.Event(7, 8, args=["after"])
        fastsend.send(proto, event)
        assert proto.transport.value() == b"cho"
        assert [data for data, _ in proto.send_queue] == [b"ppe", b"d!!", fastsend.frame_for(
            *SERIALIZERS[0].serialize(event))]
    """)


#: sha256 of the Autobahn (26.10.2) methods whose work `fastsend.send` does for the plain case: an upgrade
#: that changes one fails here, to be compared with fastsend again.
STOCK_SOURCES = {
    "autobahn.wamp.websocket.WampWebSocketProtocol.send": (
        "811ed7bd88f1a2c9ea86d6cba69f3a8ea5b16b8cca1a75fd12d1c0e1bba48ee5"
    ),
    "autobahn.websocket.protocol.WebSocketProtocol.sendMessage": (
        "048d6bcf0d71230997c4b4225086c891ed1247eed9307e58546b1bfb5b174443"
    ),
    "autobahn.websocket.protocol.WebSocketProtocol.sendFrame": (
        "89cc8b024c413aa09943880cb5bcf0667bc2cce07b6cb3c9c864bba04fe9e659"
    ),
    "autobahn.websocket.protocol.WebSocketProtocol.sendData": (
        "5dcca425b048b07eb27d56a625a790d7a8e48fbe958753074cb1e55e174b2423"
    ),
    "autobahn.websocket.protocol.PreparedMessage.__init__": (
        "76eab585334bdb7191702fc9b2a77dbb616430c095e26bbd63770f06668fd0d7"
    ),
}


def test_written_against_this_autobahn():
    run(f"""
        import hashlib, importlib, inspect
        for path, digest in {STOCK_SOURCES!r}.items():
            module, cls, name = path.rsplit(".", 2)
            fn = getattr(getattr(importlib.import_module(module), cls), name)
            fn = STOCK_SEND if fn is fastsend.send else fn
            assert hashlib.sha256(inspect.getsource(fn).encode()).hexdigest() == digest, path
    """)


def test_off_outside_a_worker_and_by_the_environment():
    for env in ({}, {S.ENV_FAST_SEND: "0"}):
        run_code(
            f"""
            from autobahn.wamp.websocket import WampWebSocketProtocol
            from switchboard.router.patches import fastsend
            stock = WampWebSocketProtocol.send
            assert not fastsend.install(force={bool(env)})
            assert WampWebSocketProtocol.send is stock
            """,
            unset=(S.ENV_FAST_SEND,),
            **env,
        )

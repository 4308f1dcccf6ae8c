"""Cases for tests/unit/test_turnflush.py over real loopback TCP, each run in a fresh interpreter
(`python -m tests.unit.turnflush_cases <case>`): switchboard.router.patches.turnflush patches Twisted's accepted
connections for the life of a process. A case exits 0 when its checks pass."""

from __future__ import annotations

import hashlib
import os
import socket
import sys

from switchboard.router.patches import turnflush
from twisted.internet import defer, error, protocol, reactor, task
from twisted.python import log

TIMEOUT = 30


class Peer(protocol.Protocol):
    """Either end: collects what arrives; `arrived(n)` fires once n bytes are in, `lost` on close."""

    def __init__(self):
        self.data = bytearray()
        self.lost = defer.Deferred()
        self._waiting: list[tuple[int, defer.Deferred]] = []

    def arrived(self, size: int) -> defer.Deferred:
        d = defer.Deferred()
        self._waiting.append((size, d))
        self._check()
        return d.addTimeout(TIMEOUT, reactor)

    def _check(self):
        for size, d in [w for w in self._waiting if len(self.data) >= w[0]]:
            self._waiting.remove((size, d))
            d.callback(bytes(self.data))

    def dataReceived(self, data):
        self.data += data
        self._check()

    def connectionLost(self, reason):
        self.lost.callback(reason.value)


class CountingSocket:
    """A connection's socket that records the size of every successful send."""

    def __init__(self, sock: socket.socket, sizes: list):
        self._sock, self._sizes = sock, sizes

    def send(self, data, *flags):
        sent = self._sock.send(data, *flags)
        if sent > 0:
            self._sizes.append(sent)
        return sent

    def __getattr__(self, name):
        return getattr(self._sock, name)


class Setup:
    """A listening server whose accepted connections are queued, and a way to connect clients to it."""

    def __init__(self):
        self.accepted = defer.DeferredQueue()
        self.polled_for_writing: list = []  # what asked the reactor to report writability
        self.sends: dict = {}  # server transport -> sizes of its successful sends
        self.errors: list = []
        log.addObserver(lambda event: self.errors.append(event) if event.get("isError") else None)
        stock_add_writer = reactor.addWriter

        def add_writer(selectable):
            self.polled_for_writing.append(selectable)
            stock_add_writer(selectable)

        reactor.addWriter = add_writer
        factory = protocol.Factory.forProtocol(Peer)
        stock_build = factory.buildProtocol

        def build(addr):
            peer = stock_build(addr)
            reactor.callLater(0, self.accepted.put, peer)
            return peer

        factory.buildProtocol = build
        self.port = reactor.listenTCP(0, factory, interface="127.0.0.1")

    @defer.inlineCallbacks
    def pair(self):
        """(client, server) Peers of a new connection; the server's sends are counted."""
        client = yield protocol.ClientCreator(reactor, Peer).connectTCP("127.0.0.1", self.port.getHost().port)
        server = yield self.accepted.get().addTimeout(TIMEOUT, reactor)
        self.sends[server.transport] = []
        server.transport.socket = CountingSocket(server.transport.socket, self.sends[server.transport])
        return client, server

    def no_errors(self):
        assert not self.errors, self.errors


def pattern(size: int) -> bytes:
    """Bytes whose order shows: a running counter."""
    return b"".join(i.to_bytes(4, "big") for i in range(size // 4))


@defer.inlineCallbacks
def one_send_per_turn(setup: Setup):
    """Everything one turn writes to a socket leaves in one send, without asking the reactor to poll."""
    client, server = yield setup.pair()
    server.transport.write(b"a" * 10)
    server.transport.write(b"b" * 20)
    server.transport.writeSequence([b"c" * 5, b"d"])
    data = yield client.arrived(36)
    assert data == b"a" * 10 + b"b" * 20 + b"c" * 5 + b"d", data
    assert setup.sends[server.transport] == [36], setup.sends
    assert server.transport not in setup.polled_for_writing
    server.transport.write(b"e")  # a later turn: its own send
    yield client.arrived(37)
    assert setup.sends[server.transport] == [36, 1], setup.sends
    setup.no_errors()


@defer.inlineCallbacks
def router_writes_share_the_send(setup: Setup):
    """turnflush.write (the router's messages) and transport.write in one turn: one send, in order."""
    client, server = yield setup.pair()
    stock_write, written = server.transport.write, []
    server.transport.write = lambda data: (written.append(data), stock_write(data))
    turnflush.write(server.transport, b"a" * 10)
    server.transport.write(b"b" * 20)
    turnflush.write(server.transport, b"c" * 5)
    assert written == [b"b" * 20]  # turnflush.write appended to the buffer itself
    data = yield client.arrived(35)
    assert data == b"a" * 10 + b"b" * 20 + b"c" * 5, data
    assert setup.sends[server.transport] == [35], setup.sends
    assert server.transport not in setup.polled_for_writing
    setup.no_errors()


@defer.inlineCallbacks
def a_full_socket_takes_part_of_a_turn(setup: Setup):
    """A turn's buffer the kernel takes only in part: the rest waits for writability, later turns'
    writes queue behind it, every byte arrives in order."""
    client, server = yield setup.pair()
    client.transport.pauseProducing()
    chunk = 65536
    sent = pattern(64 * 2**20)
    at = 0
    while not server.transport._sb_polling_writable:  # one chunk per turn until a send is partial
        assert at < len(sent), "the socket never filled up"
        turnflush.write(server.transport, sent[at : at + chunk])
        at += chunk
        yield task.deferLater(reactor, 0, lambda: None)
    assert server.transport in setup.polled_for_writing
    assert sum(setup.sends[server.transport]) < at  # part of the last turn's chunk waits
    for start in range(at, at + 4 * chunk, chunk):
        turnflush.write(server.transport, sent[start : start + chunk])
    at += 4 * chunk
    client.transport.resumeProducing()
    data = yield client.arrived(at)
    assert hashlib.sha256(data).digest() == hashlib.sha256(sent[:at]).digest()
    assert not server.transport._sb_polling_writable
    setup.no_errors()


class Producer:
    """Counts what the transport asks of it."""

    resumed = paused = 0

    def resumeProducing(self):
        self.resumed += 1

    def pauseProducing(self):
        self.paused += 1

    def stopProducing(self):
        pass


@defer.inlineCallbacks
def a_streaming_producer_is_paused_and_resumed(setup: Setup):
    """With a streaming producer (what an upgraded WebSocket's HTTP channel is): small writes leave
    in one send without touching it; a full buffer pauses it and a sent one resumes it exactly as
    with `transport.write` (a twin connection written the stock way)."""
    (client, server), (twin_client, twin) = (yield setup.pair()), (yield setup.pair())
    producer, twin_producer = Producer(), Producer()
    server.transport.registerProducer(producer, True)
    twin.transport.registerProducer(twin_producer, True)
    turnflush.write(server.transport, b"a" * 10)
    turnflush.write(server.transport, b"b" * 10)
    assert (yield client.arrived(20)) == b"a" * 10 + b"b" * 10
    assert setup.sends[server.transport] == [20]
    assert (producer.paused, producer.resumed) == (0, 0)
    client.transport.pauseProducing()
    twin_client.transport.pauseProducing()
    big = pattern(8 * 2**20)
    for start in range(0, len(big), 65536):
        turnflush.write(server.transport, big[start : start + 65536])
        twin.transport.write(big[start : start + 65536])
        assert (producer.paused, server.transport.producerPaused) == (
            twin_producer.paused,
            twin.transport.producerPaused,
        )
    assert producer.paused > 0
    client.transport.resumeProducing()
    twin_client.transport.resumeProducing()
    data = yield client.arrived(20 + len(big))
    yield twin_client.arrived(len(big))
    assert hashlib.sha256(data[20:]).digest() == hashlib.sha256(big).digest()
    assert producer.resumed == twin_producer.resumed == 1
    assert not server.transport.producerPaused
    # a turn that fills the buffer (pausing the producer) but that one send takes: resumed at once
    half = pattern(40 * 1024)  # two of them: over the 64 KiB buffer size, under one send's 128 KiB limit
    for transport in (server.transport, twin.transport):
        write = transport.write if transport is twin.transport else lambda d, t=transport: turnflush.write(t, d)
        write(half)
        write(half)
    assert server.transport.producerPaused and twin.transport.producerPaused
    yield client.arrived(20 + len(big) + 2 * len(half))
    yield twin_client.arrived(len(big) + 2 * len(half))
    assert producer.resumed == twin_producer.resumed == 2
    assert not server.transport.producerPaused
    setup.no_errors()


@defer.inlineCallbacks
def a_producer_keeps_twisted_s_path(setup: Setup):
    """A connection with a pull producer is written and resumed by Twisted's own code."""
    client, server = yield setup.pair()
    producer = Producer()
    server.transport.registerProducer(producer, False)  # a pull producer: resumed once the buffer is sent
    resumed = producer.resumed
    turnflush.write(server.transport, b"pulled")
    assert (yield client.arrived(6)) == b"pulled"
    assert producer.resumed == resumed + 1
    setup.no_errors()


@defer.inlineCallbacks
def a_full_socket_waits_for_the_reactor(setup: Setup):
    """What the kernel does not take waits for writability as before; every byte arrives, in order."""
    client, server = yield setup.pair()
    client.transport.pauseProducing()  # the client stops reading: the server's socket fills up
    first, second = pattern(24 * 2**20), pattern(2**20)[::-1]
    for start in range(0, len(first), 65536):
        server.transport.write(first[start : start + 65536])
    yield task.deferLater(reactor, 0, lambda: None)  # one turn: the flush has run
    assert server.transport._sb_polling_writable
    assert server.transport in setup.polled_for_writing
    server.transport.write(second)  # queued behind the rest, not sent ahead of it
    client.transport.resumeProducing()
    data = yield client.arrived(len(first) + len(second))
    assert hashlib.sha256(data).digest() == hashlib.sha256(first + second).digest()
    assert not server.transport._sb_polling_writable  # all sent: the reactor stopped polling
    setup.no_errors()


@defer.inlineCallbacks
def lose_connection_sends_first(setup: Setup):
    """loseConnection right after a write still delivers every byte, then closes cleanly."""
    client, server = yield setup.pair()
    payload = pattern(4 * 2**20)
    server.transport.write(payload)
    server.transport.loseConnection()
    reason = yield client.lost.addTimeout(TIMEOUT, reactor)
    assert bytes(client.data) == payload
    assert isinstance(reason, error.ConnectionDone), reason
    assert isinstance((yield server.lost), error.ConnectionDone)
    setup.no_errors()


@defer.inlineCallbacks
def a_failed_send_drops_only_that_connection(setup: Setup):
    """A send that fails closes its own connection the way the reactor would; the others are served."""
    broken_client, broken = yield setup.pair()
    client, server = yield setup.pair()
    broken.transport.socket.shutdown(socket.SHUT_WR)  # its next send fails (EPIPE)
    broken.transport.write(b"lost")
    server.transport.write(b"kept")
    assert (yield client.arrived(4)) == b"kept"
    assert isinstance((yield broken.lost.addTimeout(TIMEOUT, reactor)), error.ConnectionLost)
    yield broken_client.lost.addTimeout(TIMEOUT, reactor)
    server.transport.write(b"more")
    assert (yield client.arrived(8)) == b"keptmore"
    setup.no_errors()


@defer.inlineCallbacks
def a_failing_close_handler_does_not_stop_the_others(setup: Setup):
    """A protocol whose connectionLost raises, on a send that fails: logged, and the connections
    queued after it in the same turn still send."""
    _, broken = yield setup.pair()
    client, server = yield setup.pair()

    def fail(reason):
        broken.lost.callback(reason.value)
        raise RuntimeError("connectionLost failed")

    broken.connectionLost = fail
    broken.transport.socket.shutdown(socket.SHUT_WR)
    broken.transport.write(b"lost")
    server.transport.write(b"kept")
    assert (yield client.arrived(4)) == b"kept"
    yield broken.lost
    assert [e for e in setup.errors if "connectionLost failed" in str(e.get("failure"))], setup.errors


@defer.inlineCallbacks
def abort_drops_what_is_queued(setup: Setup):
    """abortConnection after a write in the same turn closes without sending or failing."""
    client, server = yield setup.pair()
    server.transport.write(b"never")
    server.transport.abortConnection()
    assert isinstance((yield server.lost.addTimeout(TIMEOUT, reactor)), error.ConnectionAborted)
    yield client.lost.addTimeout(TIMEOUT, reactor)
    assert setup.sends[server.transport] == []
    setup.no_errors()


CASES = {
    f.__name__: f
    for f in (
        one_send_per_turn,
        router_writes_share_the_send,
        a_full_socket_takes_part_of_a_turn,
        a_producer_keeps_twisted_s_path,
        a_streaming_producer_is_paused_and_resumed,
        a_full_socket_waits_for_the_reactor,
        lose_connection_sends_first,
        a_failed_send_drops_only_that_connection,
        a_failing_close_handler_does_not_stop_the_others,
        abort_drops_what_is_queued,
    )
}


def main(case: str) -> None:
    assert os.environ.get("SWITCHBOARD_TURN_FLUSH") != "0"
    assert turnflush.install(force=True)
    task.react(lambda _reactor: CASES[case](Setup()))


if __name__ == "__main__":
    main(sys.argv[1])

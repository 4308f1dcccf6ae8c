"""The load of the layout measurement (router/node/layout_measure.py), in a process of its own.

`python -m switchboard.router.node.layout_load URL REALM SUBSCRIBERS CALLERS` joins SUBSCRIBERS
anonymous WebSocket sessions subscribed to FANOUT_TOPIC, one publisher and CALLERS callers of
ECHO_PROCEDURE (JSON, as the page), prints `ready`, then takes commands on stdin, one a line:

- `go LOAD WARM SECONDS`: runs LOAD (`fanout`: acknowledged publishes, WINDOW in flight, to every
  subscriber; `rpc`: DEPTH calls in flight per caller), prints `measuring` after WARM seconds, then
  `done LOAD UNITS ELAPSED` after SECONDS more (UNITS: that load's deliveries or results in
  between) and stops, then `idle` once nothing has arrived for QUIET seconds;
- `quit`.

Anything wrong prints `error WHY` and exits 1. The parent reads the hub's CPU at `measuring` and
`done`: this process's own CPU is not counted (it is a stand-in for clients on other machines).
"""

from __future__ import annotations

import sys
import time
from urllib.parse import urlparse

from autobahn.twisted.wamp import ApplicationSession
from autobahn.twisted.websocket import WampWebSocketClientFactory
from autobahn.wamp.serializer import JsonSerializer
from autobahn.wamp.types import ComponentConfig, PublishOptions
from switchboard.router.node.layout_wire import ECHO_PROCEDURE, FANOUT, FANOUT_TOPIC, JOIN_TIMEOUT, LOADS, RPC
from twisted.internet import defer, endpoints, reactor, ssl, stdio
from twisted.protocols.basic import LineReceiver

#: acknowledged publishes in flight; calls in flight per caller
WINDOW, DEPTH = 16, 8
#: seconds with nothing arriving after a load that make the hub idle again
QUIET = 0.2
PAYLOAD = {"text": "x" * 64}


class LoadSession(ApplicationSession):
    def onJoin(self, details):
        self.config.extra["joined"].callback(self)

    def onLeave(self, details):
        joined = self.config.extra["joined"]
        if not joined.called:
            joined.errback(RuntimeError(f"left before joining: {details.reason} {details.message or ''}"))
        self.disconnect()


class Load:
    """The sessions and the counter the loads share."""

    def __init__(self, url: str, realm: str):
        self.url, self.realm = urlparse(url), realm
        #: the load generating now, the one counted now (units), and everything seen (for idle)
        self.running: str | None = None
        self.counting: str | None = None
        self.units = self.seen = 0
        self.publisher = None
        self.callers: list = []

    def join(self) -> defer.Deferred:
        joined = defer.Deferred()
        factory = WampWebSocketClientFactory(
            lambda: LoadSession(ComponentConfig(self.realm, extra={"joined": joined})),
            url=self.url.geturl(),
            serializers=[JsonSerializer()],
        )
        host, port = self.url.hostname, self.url.port or (443 if self.url.scheme == "wss" else 80)
        if self.url.scheme == "wss":  # the measurement's own hub on loopback, with whatever certificate it has
            endpoint = endpoints.SSL4ClientEndpoint(reactor, host, port, ssl.CertificateOptions())
        else:
            endpoint = endpoints.TCP4ClientEndpoint(reactor, host, port)
        endpoint.connect(factory).addErrback(lambda f: joined.called or joined.errback(f))
        return joined

    def arrived(self, load: str) -> None:
        """An event delivered or a call answered: a unit only of the load being counted (events a
        fan-out left queued must not count, nor their CPU, for the RPC after it)."""
        self.seen += 1
        if self.counting == load:
            self.units += 1

    def delivered(self, *args, **kwargs) -> None:
        self.arrived(FANOUT)

    async def setup(self, subscribers: int, callers: int) -> None:
        subs = await defer.gatherResults([self.join() for _ in range(subscribers)], consumeErrors=True)
        await defer.gatherResults([s.subscribe(self.delivered, FANOUT_TOPIC) for s in subs], consumeErrors=True)
        self.publisher = await self.join()
        self.callers = await defer.gatherResults([self.join() for _ in range(callers)], consumeErrors=True)

    def publish_loop(self, load: str) -> None:
        if self.running != load:
            return
        d = self.publisher.publish(FANOUT_TOPIC, PAYLOAD, options=PublishOptions(acknowledge=True))
        d.addCallbacks(lambda _: self.publish_loop(load), self.failed)

    def call_loop(self, caller, load: str) -> None:
        if self.running != load:
            return
        d = caller.call(ECHO_PROCEDURE, PAYLOAD)
        d.addCallbacks(lambda _: (self.arrived(RPC), self.call_loop(caller, load)), self.failed)

    def go(self, load: str, warm: float, seconds: float) -> None:
        if load not in LOADS:
            raise ValueError(f"no load {load!r}")
        self.running = load
        if load == FANOUT:
            for _ in range(WINDOW):
                self.publish_loop(load)
        else:
            for caller in self.callers:
                for _ in range(DEPTH):
                    self.call_loop(caller, load)
        reactor.callLater(warm, self.measure, load, seconds)

    def measure(self, load: str, seconds: float) -> None:
        say("measuring")
        self.units, self.counting, started = 0, load, time.monotonic()
        reactor.callLater(seconds, self.done, load, started)

    def done(self, load: str, started: float) -> None:
        units, elapsed = self.units, time.monotonic() - started
        self.running = self.counting = None
        say(f"done {load} {units} {elapsed:.3f}")
        self.settle(-1)

    def settle(self, seen: int) -> None:
        """Says `idle` once nothing has arrived for QUIET seconds: the next load starts on a quiet hub."""
        if self.seen == seen:
            say("idle")
        else:
            reactor.callLater(QUIET, self.settle, self.seen)

    def failed(self, failure) -> None:
        if self.running is not None:
            fail(failure.getErrorMessage() or failure.type.__name__)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


#: the process's exit code, set by fail()
outcome = {"code": 0}


def fail(why: str) -> None:
    if outcome["code"]:
        return
    say(f"error {why}")
    outcome["code"] = 1
    if reactor.running:
        reactor.stop()


class Commands(LineReceiver):
    delimiter = b"\n"

    def __init__(self, load: Load):
        self.load = load

    def lineReceived(self, line: bytes) -> None:
        words = line.decode().split()
        try:
            if words == ["quit"]:
                reactor.stop()
            elif len(words) == 4 and words[0] == "go":
                self.load.go(words[1], float(words[2]), float(words[3]))
            else:
                raise ValueError(f"not a command: {line!r}")
        except ValueError as e:
            fail(str(e))

    def connectionLost(self, reason) -> None:
        if reactor.running:  # the parent went away
            reactor.stop()


def main(argv: list[str]) -> None:
    url, realm, subscribers, callers = argv[0], argv[1], int(argv[2]), int(argv[3])
    load = Load(url, realm)

    def started():
        d = defer.ensureDeferred(load.setup(subscribers, callers))
        d.addTimeout(JOIN_TIMEOUT, reactor)
        d.addCallbacks(lambda _: (say("ready"), stdio.StandardIO(Commands(load))), lambda f: fail(describe(f)))

    reactor.callWhenRunning(started)
    reactor.run()
    sys.exit(outcome["code"])


def describe(failure) -> str:
    if isinstance(failure.value, defer.FirstError):
        failure = failure.value.subFailure
    return failure.getErrorMessage() or failure.type.__name__


if __name__ == "__main__":
    main(sys.argv[1:])

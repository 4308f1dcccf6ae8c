"""The ceiling: a bare Autobahn/Twisted WebSocket server, no WAMP, no routing, no authorization.

    python -m bench.peers_ceiling PORT

Text protocol (what bench.peers_loadgen speaks): "S" subscribes the connection (answered "ok");
"P<payload>" frames <payload> once (Autobahn's PreparedMessage) and writes that same frame to every
subscriber's transport; "C<id>:<a>,<b>" is answered "R<id>:<a+b>" in-process (no callee hop). The fastest
broadcast Autobahn on Twisted can do in Python: what a router on the same stack cannot exceed. It
gets the same Twisted and Autobahn tuning as Switchboard's workers (lazy debug-log arguments,
router/patches/fastlog.py; sends at the end of each reactor turn, router/patches/turnflush.py), so that it stays the
ceiling of the stack as Switchboard runs it.
"""

from __future__ import annotations

import sys

from autobahn.twisted.choosereactor import install_reactor

reactor = install_reactor()

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol  # noqa: E402
from switchboard.router.patches import fastlog, turnflush  # noqa: E402

fastlog.install("info")
turnflush.install(force=True)


class Broadcast(WebSocketServerProtocol):
    def onClose(self, wasClean, code, reason):
        self.factory.subscribers.discard(self)

    def onMessage(self, payload, isBinary):
        kind = payload[:1]
        if kind == b"P":
            frame = self.factory.prepareMessage(payload[1:], isBinary, doNotCompress=True).payloadHybi
            for sub in self.factory.subscribers:
                sub.transport.write(frame)
        elif kind == b"C":
            head, _, args = payload[1:].partition(b":")
            a, b = args.split(b",")
            self.sendMessage(b"R" + head + b":" + str(int(a) + int(b)).encode())
        elif kind == b"S":
            self.factory.subscribers.add(self)
            self.sendMessage(b"ok")


def main() -> None:
    port = int(sys.argv[1])
    factory = WebSocketServerFactory(f"ws://127.0.0.1:{port}")
    factory.protocol = Broadcast
    factory.subscribers = set()
    factory.setProtocolOptions(autoPingInterval=0)
    reactor.listenTCP(port, factory, interface="127.0.0.1", backlog=1024)
    print("READY", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()

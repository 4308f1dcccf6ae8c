"""What one delivery's write costs the router: the `send()` alone, Twisted's write path, and
switchboard.router.patches.turnflush's (docs/benchmarks.md, Tuning, item 10). End-to-end runs on this VM swing by more
than the difference, so this measures the write path alone, in one process: N accepted loopback
connections, a reader process on another CPU draining them, and rounds of one frame to every
connection, each round written and flushed as a reactor turn would, timed in CPU time
(`time.thread_time`) per delivery. The three ways alternate, round by round.

`python -m bench.writepath [--connections N] [--rounds R]`; prints a table, writes
bench/results/writepath.json.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import statistics
import sys
import time
from pathlib import Path

from switchboard.router.patches import turnflush
from twisted.internet import protocol, reactor

from bench import machine

FRAME = b"\x82\x7e\x00\x82" + b"x" * 130  # a binary frame about the size of a fan-out event
OUT = Path(__file__).resolve().parent / "results" / "writepath.json"


#: what switchboard.router.patches.turnflush ships, put back after the run
SHIPPED = (turnflush.send_buffer, turnflush.write)


def stock_send_buffer(connection, reactor) -> bool:
    """Item 10 undone: the flush always runs the transport's own doWrite."""
    return False


def stock_write(transport, data: bytes) -> None:
    transport.write(data)


def raw_sends(transports) -> None:
    for t in transports:
        t.socket.send(FRAME)


def through(send_buffer, write):
    def one_round(transports) -> None:
        turnflush.send_buffer, turnflush.write = send_buffer, write
        for t in transports:
            turnflush.write(t, FRAME)
        turnflush.flush_turn_writes(reactor)

    return one_round


WAYS = {
    "send() alone": raw_sends,
    "Twisted's write and doWrite (turn flush, item 10 undone)": through(stock_send_buffer, stock_write),
    "turnflush.write and send_buffer (item 10)": through(*SHIPPED),
}


def reader(port: int, count: int, total: int, cpu: int | None) -> None:
    """The other end, in a child process: connect `count` sockets and read until `total` bytes came."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    poller = select.epoll()
    for s in sockets:
        s.setblocking(False)
        poller.register(s.fileno(), select.EPOLLIN)
    by_fd = {s.fileno(): s for s in sockets}
    got = 0
    while got < total:
        for fd, _ in poller.poll(-1):
            got += len(by_fd[fd].recv(1 << 20))
    os._exit(0)


def measure(connections: int, rounds: int, pause: float) -> dict:
    if not turnflush.install(force=True):
        sys.exit("the turn flush is off (SWITCHBOARD_TURN_FLUSH=0): nothing to measure")
    cpus = sorted(os.sched_getaffinity(0))
    accepted = []
    factory = protocol.Factory.forProtocol(protocol.Protocol)
    stock_build = factory.buildProtocol

    def build(addr):
        proto = stock_build(addr)
        reactor.callLater(0, lambda: accepted.append(proto.transport))
        return proto

    factory.buildProtocol = build
    port = reactor.listenTCP(0, factory, interface="127.0.0.1", backlog=connections)
    total = len(FRAME) * connections * rounds * len(WAYS)
    child = os.fork()
    if child == 0:
        reader(port.getHost().port, connections, total, cpus[0] if len(cpus) > 1 else None)
    if len(cpus) > 1:
        os.sched_setaffinity(0, {cpus[-1]})
    spent = {name: [] for name in WAYS}
    done: dict = {}

    def run():
        if len(accepted) < connections:
            reactor.callLater(0.01, run)
            return
        for t in accepted:
            t.setTcpNoDelay(True)
        for _ in range(rounds):
            for name, one_round in WAYS.items():
                start = time.thread_time()
                one_round(accepted)
                spent[name].append(time.thread_time() - start)
                time.sleep(pause)  # the reader drains: every round finds empty sockets, as paced events do
        turnflush.send_buffer, turnflush.write = SHIPPED
        _, status = os.waitpid(child, 0)
        done["reader_status"] = status
        reactor.stop()

    reactor.callLater(0, run)
    reactor.run()
    if done.get("reader_status") != 0:
        sys.exit(f"the reader process failed ({done.get('reader_status')})")
    per_delivery = {name: [s / connections * 1e6 for s in values] for name, values in spent.items()}
    return {
        "connections": connections,
        "rounds": rounds,
        "frame_bytes": len(FRAME),
        "writer_cpu": cpus[-1],
        "reader_cpu": cpus[0] if len(cpus) > 1 else None,
        "us_per_delivery": {
            name: {"median": round(statistics.median(v), 2), "mean": round(statistics.fmean(v), 2)}
            for name, v in per_delivery.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.writepath", description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=100, help="default 100")
    parser.add_argument("--rounds", type=int, default=3000, help="rounds of each way, default 3000")
    parser.add_argument("--pause", type=float, default=0.001, help="seconds between rounds, default 0.001")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/writepath.json")
    args = parser.parse_args(argv)
    if args.connections < 1 or args.rounds < 1:
        parser.error("--connections and --rounds must be at least 1")
    started, on = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), machine.info()
    result = {"started_utc": started, **measure(args.connections, args.rounds, args.pause), "machine": on}
    print(f"{args.connections} connections x {args.rounds} rounds, CPU time per delivery (µs):")
    for name, v in result["us_per_delivery"].items():
        print(f"  {name}: median {v['median']}, mean {v['mean']}")
    if not args.no_save:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

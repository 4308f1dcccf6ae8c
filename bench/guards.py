"""What the guards against hostile clients cost on the hot paths, in CPU per operation, in one process.

End-to-end runs on this VM swing by more than the guards cost (bench/results/guards.md), so this
times the guards' own work where the router pays it: per delivery, the send buffer check
(router/patches/sendlimit.py) around a WebSocket peer's send; per inbound CALL or PUBLISH of a browser
session, the router session's checks (router/patches/ingress.py: token bucket, depth and value walk); per
JSON message, the nesting measure before decoding. Each is timed against the same call without the
guard, interleaved, best of several rounds (`time.thread_time`), and set beside the router's CPU per
delivery and per call from the latest `make bench` (docs/benchmarks.md).

`python -m bench.guards [--rounds R] [--number N]`; prints a table, writes bench/results/guards_micro.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from autobahn.wamp import message
from switchboard.bridge.payload import check_json_nesting, check_value
from switchboard.bridge.ratelimit import TokenBucket
from switchboard.router.patches import sendlimit

from bench import machine

OUT = Path(__file__).resolve().parent / "results" / "guards_micro.json"
#: the router's CPU per fan-out delivery and per RPC call through the router, as measured here before
#: (CROSSBAR-NOTES "Scaling": 10-12 µs per delivery; docs/benchmarks.md: about 300 µs of router CPU
#: per call at 3,000 calls/s on one core)
DELIVERY_US = 10.0
CALL_US = 300.0


class _Transport:
    """The attributes of Twisted's tcp.Server the send buffer check reads."""

    def __init__(self):
        self.dataBuffer, self.offset, self._tempDataLen = b"", 0, 0


class _Peer:
    def __init__(self):
        self.transport = _Transport()


def _noop_send(self, msg) -> None:
    return None


def _time(fn, number: int) -> float:
    start = time.thread_time()
    for _ in range(number):
        fn()
    return (time.thread_time() - start) / number * 1e6


def measure(rounds: int, number: int) -> dict:
    sendlimit._limit = 1024 * 1024
    guarded = sendlimit._guarded(_noop_send)
    peer, msg = _Peer(), object()
    bucket = TokenBucket(1e9, 1e9)
    call = message.Call(1, "demo.add2", args=[2, 3])
    event = message.Publish(
        2,
        "chat.room.lobby",
        args=[
            {
                "id": "a" * 32,
                "room": "lobby",
                "text": "x" * 100,
                "author": {"nick": "n", "session": 1, "authid": "a"},
                "time": "2026-12-01T00:00:00.000Z",
            }
        ],
    )
    json_call = b'[48,1,{},"demo.add2",[2,3]]'

    def ingress(msg):
        def run():
            bucket.try_take()
            if msg.args:
                check_value(msg.args, 31, "args")
            if msg.kwargs:
                check_value(msg.kwargs, 31, "kwargs")

        return run

    cases = {
        "send buffer check, per delivery": (lambda: _noop_send(peer, msg), lambda: guarded(peer, msg), DELIVERY_US),
        "router session checks, per CALL": (lambda: None, ingress(call), CALL_US),
        "router session checks, per chat PUBLISH": (lambda: None, ingress(event), DELIVERY_US * 100),
        "JSON nesting measure, per message": (lambda: None, lambda: check_json_nesting(json_call, 32), CALL_US),
    }
    results = {}
    for name, (without, with_guard, per_op_us) in cases.items():
        best_without = best_with = float("inf")
        for _ in range(rounds):
            best_without = min(best_without, _time(without, number))
            best_with = min(best_with, _time(with_guard, number))
        added = max(0.0, best_with - best_without)
        results[name] = {
            "without_us": round(best_without, 3),
            "with_us": round(best_with, 3),
            "added_us": round(added, 3),
            "router_us_per_op": per_op_us,
            "share": round(added / per_op_us, 4),
        }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.guards", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=200_000)
    args = parser.parse_args(argv)
    results = measure(args.rounds, args.number)
    print("| guard | without, µs | with, µs | added, µs | router CPU per operation, µs | share |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        print(
            f"| {name} | {r['without_us']:.3f} | {r['with_us']:.3f} | {r['added_us']:.3f} | "
            f"{r['router_us_per_op']:.0f} | {r['share']:.1%} |"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {"machine": machine.info(), "rounds": args.rounds, "number": args.number, "results": results}, indent=2
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

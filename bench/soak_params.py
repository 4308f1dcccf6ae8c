"""Every knob of `python -m bench.soak` in one place: defaults here, BENCH_SOAK_* environment variables
over them, command-line flags over those (`python -m bench.soak --help`)."""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass

from bench import knobs


@dataclass(frozen=True)
class SoakParams:
    #: normal subscribers of the fan-out topic (WebSocket, msgpack, from 127.0.0.1)
    subscribers: int = 1000
    #: events per second the fan-out publisher sends, on a clock (under the 50/s per-session limit): 10,000
    #: deliveries/s to 1,000 subscribers, about a tenth of the hub's peak (docs/benchmarks.md), so that the
    #: router has room and what the bad clients cost shows, not queueing
    rate: float = 10.0
    #: JSON size of each fan-out event's payload ({"t": time_ns, "s": seq, "p": pad})
    payload_bytes: int = 100
    #: a busy topic beside it, the one slow consumers choke on: events/s and bytes each (one normal reader)
    bulk_rate: float = 40.0
    bulk_bytes: int = 4000
    #: seconds of publishing before the baseline, then the baseline, then the measured window (equal in
    #: both phases; the bad clients run during the bad phase's window)
    warmup_seconds: float = 5.0
    baseline_seconds: float = 10.0
    window_seconds: float = 120.0
    #: after the window: at least this long, and until the router's RSS is back within the margin (at most
    #: recovery_timeout seconds)
    after_seconds: float = 5.0
    recovery_timeout: float = 60.0
    #: "back" means within max(rss_margin_mib, rss_margin_fraction x baseline) of the baseline
    rss_margin_mib: float = 16.0
    rss_margin_fraction: float = 0.10
    #: "bounded" means the peak during the bad window is at most this far above the baseline
    rss_bound_mib: float = 96.0
    #: slow consumers (127.0.0.2): how many, started one every slow_interval seconds from the window's start
    slow_consumers: int = 30
    slow_interval: float = 2.0
    #: malformed connections (127.0.0.3) opened per second, each waiting at most malformed_timeout for the hub
    malformed_rate: float = 30.0
    malformed_timeout: float = 5.0
    #: sessions that join, subscribe and leave (127.0.0.4), per second
    churn_rate: float = 10.0
    #: goal: the bad window's p99 at most this many times the clean window's
    p99_factor: float = 2.0
    #: seconds without progress after which missing deliveries count as lost
    stall_timeout: float = 10.0
    #: pin the hub to one CPU, the clients to another
    pin: bool = True
    out_dir: str = "bench/results"
    #: result files are <name>.md, .json, .png
    name: str = "soak"
    quick: bool = False

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


#: small: bigger bulk events so that the slow consumers fill their buffers within the short window
QUICK = dict(
    subscribers=100,
    bulk_bytes=16000,
    warmup_seconds=2.0,
    baseline_seconds=3.0,
    window_seconds=20.0,
    recovery_timeout=20.0,
    slow_consumers=3,
    slow_interval=1.0,
    malformed_rate=10.0,
    churn_rate=4.0,
)

_PREFIX = "BENCH_SOAK_"


def parse(argv: list[str] | None = None, env: dict | None = None) -> SoakParams:
    env = os.environ if env is None else env
    defaults = SoakParams()
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description="Fan-out with and without slow, malformed and churning clients."
    )
    parser.add_argument("--quick", action="store_true", help=f"small run, results not saved ({QUICK})")
    for name, kind in knobs.kinds(SoakParams).items():
        if name == "quick":
            continue
        flag = name.replace("_", "-")
        if kind is bool:
            parser.add_argument("--no-" + flag, dest=name, action="store_false", default=None)
        else:
            parser.add_argument(
                "--" + flag,
                dest=name,
                type=lambda s, k=kind: knobs.convert(s, k),
                help=f"default {getattr(defaults, name)}",
            )
    args = parser.parse_args(argv)
    values: dict = {}
    if args.quick or knobs.convert(env.get(_PREFIX + "QUICK", "0"), bool):
        values.update(QUICK, quick=True)
    values.update(knobs.from_env(SoakParams, env, _PREFIX))
    values.update(knobs.from_flags(args))
    params = SoakParams(**values)
    if params.payload_bytes < 60 or params.bulk_bytes < 60:
        parser.error("payload-bytes and bulk-bytes must be >= 60 (timestamp and sequence number need room)")
    if min(params.rate, params.bulk_rate) <= 0 or params.window_seconds <= 0:
        parser.error("rates and the window must be positive")
    return params

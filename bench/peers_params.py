"""Every knob of `python -m bench.peers` in one place: defaults here, BENCH_PEERS_* environment
variables over them, command-line flags over those (`python -m bench.peers --help`)."""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass

from bench import knobs
from bench.peers_servers import PEERS, VARIANTS

#: every system the benchmark knows: Switchboard's variants (bench.peers_servers.VARIANTS) and the peers
SYSTEMS = (*VARIANTS, *PEERS)
#: the comparison: Switchboard as `make run` starts it, as it was before tuning, and the peers
DEFAULT_SYSTEMS = ("switchboard", "sb_before", *PEERS)
#: `--tuning`: every variant, one setting changed each, fan-out and RPC only
TUNING = dict(
    systems=tuple(VARIANTS),
    workloads=("fanout", "rpc"),
    fanout_subscribers=(100, 1000),
    rpc_concurrency=(10, 100),
    rounds=3,
    name="tuning",
)
WORKLOADS = ("fanout", "rpc", "connections")


@dataclass(frozen=True)
class PeersParams:
    #: subscriber counts of the fan-out workload (1 publisher -> N subscribers)
    fanout_subscribers: tuple[int, ...] = (100, 1000)
    #: at most this many events per fan-out run (each delivered to every subscriber) ...
    fanout_events: int = 3000
    #: ... and at most this many seconds of publishing
    fanout_seconds: float = 5.0
    #: unloaded phase first: at most this many events, one at a time (the latency of a lone event) ...
    fanout_unloaded_events: int = 200
    #: ... for at most this many seconds
    fanout_unloaded_seconds: float = 1.5
    #: events published before the measured ones (same connections), not measured
    fanout_warmup: int = 20
    #: deliveries in flight: the publisher keeps at most max(2, this // N) events not yet delivered to every
    #: subscriber (enough to keep the server busy; the latency shown is latency under that load)
    fanout_in_flight: int = 16000
    #: then a paced phase for this many seconds (0: none), publishing at this fraction of the loaded
    #: phase's event rate: latency at a sustainable load
    fanout_paced_seconds: float = 2.0
    fanout_paced_fraction: float = 0.5
    #: JSON size of each event's payload ({"t": time_ns, "s": seq, "p": pad})
    payload_bytes: int = 100
    #: concurrent callers of the RPC workload (each its own connection, one call at a time)
    rpc_concurrency: tuple[int, ...] = (1, 10, 100)
    #: seconds of calling per RPC run (after a 0.5 s warm-up)
    rpc_seconds: float = 3.0
    #: idle sessions the connections workload opens (per system)
    connections: int = 10000
    #: handshakes in flight while opening them
    connect_parallel: int = 100
    #: every system runs this many times, the systems interleaved; tables show each cell's median round
    rounds: int = 1
    #: systems and workloads to run (see SYSTEMS, WORKLOADS)
    systems: tuple[str, ...] = DEFAULT_SYSTEMS
    workloads: tuple[str, ...] = WORKLOADS
    #: seconds without progress after which a fan-out run counts what is missing as lost
    stall_timeout: float = 5.0
    #: pin servers to one CPU and the load generator to another
    pin: bool = True
    out_dir: str = "bench/results"
    #: result files are <name>.md, .json, .png
    name: str = "peers"
    quick: bool = False

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


QUICK = dict(
    fanout_events=400,
    fanout_seconds=2.0,
    fanout_unloaded_events=50,
    fanout_unloaded_seconds=1.0,
    fanout_warmup=10,
    fanout_paced_seconds=1.5,
    rpc_seconds=1.5,
    connections=1000,
)

_PREFIX = "BENCH_PEERS_"


def parse(argv: list[str] | None = None, env: dict | None = None) -> PeersParams:
    env = os.environ if env is None else env
    defaults = PeersParams()
    kinds = knobs.kinds(PeersParams)
    parser = argparse.ArgumentParser(
        prog="python -m bench.peers", description="Switchboard and its peers on the same workloads, same run."
    )
    parser.add_argument("--quick", action="store_true", help=f"small run, results not saved ({QUICK})")
    parser.add_argument("--tuning", action="store_true", help=f"Switchboard's variants side by side ({TUNING})")
    for name, kind in kinds.items():
        if name in ("quick", "tuning"):
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
    if args.tuning:
        values.update(TUNING)
    if args.quick or knobs.convert(env.get(_PREFIX + "QUICK", "0"), bool):
        values.update(QUICK, quick=True)
    values.update(knobs.from_env(PeersParams, env, _PREFIX))
    values.update(knobs.from_flags(args, skip=("quick", "tuning")))
    params = PeersParams(**values)
    bad = [s for s in params.systems if s not in SYSTEMS] + [w for w in params.workloads if w not in WORKLOADS]
    if bad:
        parser.error(f"unknown system/workload {bad}; systems: {SYSTEMS}, workloads: {WORKLOADS}")
    if params.payload_bytes < 60:
        parser.error("payload-bytes must be >= 60 (timestamp and sequence number need room)")
    return params

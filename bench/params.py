"""Every knob of the benchmark in one place: defaults here, overridable by BENCH_* environment
variables, then by command-line flags (`python -m bench.django_publish --help`)."""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field

from bench import knobs


@dataclass(frozen=True)
class Params:
    #: events per measured run of each scenario
    events: int = 3000
    #: events sent before the measured ones in the same process (connections, imports, caches warm)
    warmup: int = 200
    #: events per bridge request for publish_many (the hub takes at most 1000)
    batch_size: int = 100
    #: JSON size of each event's payload (a dict {"seq", "phase", "pad"} padded to this many bytes)
    payload_bytes: int = 100
    #: rounds: every scenario runs once per round, scenarios interleaved; the table shows the median round
    rounds: int = 2
    #: events per run of the outbox scenario (one transaction and one on-commit delivery each: slower)
    outbox_events: int = 600
    #: pin the hub/Redis/receivers to one CPU and the load generator to another (needs >= 2 CPUs)
    pin: bool = True
    #: scenarios to run (default: all); see bench.scenarios.SCENARIOS
    scenarios: tuple[str, ...] = ()
    #: seconds the receiver keeps waiting for missing events after the load generator finished
    drain_timeout: float = 30.0
    #: Crossbar log level of the benchmark hub (warn: no per-request logging on either side)
    hub_loglevel: str = "warn"
    #: where the Markdown and JSON results go
    out_dir: str = "bench/results"
    #: a quick run (CI smoke, development): few events, one round; results are not written to out_dir
    quick: bool = False
    #: free-text notes recorded with the results (e.g. what else was running)
    notes: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


QUICK = dict(events=300, warmup=50, rounds=1, outbox_events=100, drain_timeout=10.0)

_ENV_PREFIX = "BENCH_"


def parse(argv: list[str] | None = None, env: dict[str, str] | None = None) -> Params:
    """Defaults < BENCH_* environment (e.g. BENCH_EVENTS=2000) < flags; --quick applies QUICK first."""
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(
        prog="python -m bench.django_publish",
        description="Publish from Django: Switchboard's HTTP bridge vs Channels' group_send.",
    )
    parser.add_argument("--quick", action="store_true", help=f"small run, results not saved ({QUICK})")
    parser.add_argument("--events", type=int)
    parser.add_argument("--warmup", type=int)
    parser.add_argument("--batch-size", type=int, dest="batch_size")
    parser.add_argument("--payload-bytes", type=int, dest="payload_bytes")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--outbox-events", type=int, dest="outbox_events")
    parser.add_argument("--no-pin", action="store_false", dest="pin", default=None, help="do not pin CPUs")
    parser.add_argument("--scenarios", type=lambda s: knobs.convert(s, tuple), help="comma-separated scenario names")
    parser.add_argument("--drain-timeout", type=float, dest="drain_timeout")
    parser.add_argument("--hub-loglevel", dest="hub_loglevel")
    parser.add_argument("--out-dir", dest="out_dir")
    parser.add_argument("--note", action="append", dest="notes", help="free text recorded with the results")
    args = parser.parse_args(argv)

    values: dict = {}
    quick = args.quick or knobs.convert(env.get(_ENV_PREFIX + "QUICK", "0"), bool)
    if quick:
        values.update(QUICK, quick=True)
    values.update(knobs.from_env(Params, env, _ENV_PREFIX))
    values.update(knobs.from_flags(args))
    if "notes" in values:
        values["notes"] = tuple(values["notes"])
    params = Params(**values)
    problems = []
    if params.events < 1 or params.outbox_events < 1 or params.rounds < 1 or params.warmup < 0:
        problems.append("events, outbox-events and rounds must be >= 1, warmup >= 0")
    if not 1 <= params.batch_size <= 1000:
        problems.append("batch-size must be 1..1000 (the hub's batch limit)")
    if params.payload_bytes < 40:
        problems.append("payload-bytes must be >= 40 (the seq/phase fields need room)")
    if problems:
        parser.error("; ".join(problems))
    return params

"""What the guards against hostile clients and the message counting behind /metrics cost the router per
RPC call and per published event, counted in instructions (valgrind's callgrind), not timed.

End-to-end RPC throughput on this VM swings by more than either costs, either way
(bench/results/guards_rpc*.md), and CPU seconds are noisy too; callgrind counts the instructions the router
worker executes, which repeats for the same inputs whatever else the machine is doing. The hub runs as
`make run` starts it (bench.peers_servers: variant `switchboard`), and with one switch off
(`sb_unguarded`: SWITCHBOARD_GUARDS=0; `sb_no_metrics`: SWITCHBOARD_METRICS=0, which turns off all the
counting of router/patches/counting.py: the messages, the calls, and the publications per subscription
the dashboard's topic rates read); its router worker
started under callgrind with counting off (Crossbar's worker option `python`, a wrapper script);
once the hub is ready and warmed up, counting is switched on for exactly N sequential `demo.add2`
calls from one browser-like WebSocket session (msgpack), then for N publishes from it to a topic a
second session subscribes to (each acknowledged, each event received). The instructions of each
window divided by N are the router's per call (CALL in, INVOCATION out, YIELD in,
RESULT out) and per published event (PUBLISH in, PUBLISHED out, EVENT out). After the windows the
bench asks the dashboard's `switchboard.admin.stats` how many publications the broker counted on the
topic's subscription, and checks the switch: every one of them with counting on, none with it off.

`python -m bench.router_instructions [--calls N] [--repeat R]`; prints a table, writes
bench/results/router_instructions.{json,md}. About 8 minutes (the router under valgrind starts slowly).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from switchboard.router import settings as S
from switchboard.router.testing.hub import Hub

from bench import machine
from bench.peers_servers import BENCH_TOPIC, LOADGEN_LIMITS, VARIANTS, sb_config

RESULTS = Path(__file__).resolve().parent / "results"
#: (name in the results, variant): the guarded hub is started twice, so the difference between two
#: starts of the same hub (memory layout, timers firing in a window) is measured in the same run
RUNS = (
    ("sb_unguarded", "sb_unguarded"),
    ("sb_no_metrics", "sb_no_metrics"),
    ("switchboard", "switchboard"),
    ("switchboard_again", "switchboard"),
)
#: the router under valgrind starts some tens of times slower than it does natively
START_TIMEOUT = 600.0
WARMUP = 200


def _wrapper(workdir: Path) -> Path:
    """The executable Crossbar starts the router worker with: Python under callgrind, counting off."""
    valgrind = shutil.which("valgrind")
    if not valgrind:
        raise SystemExit("valgrind not found (Debian package valgrind)")
    script = workdir / "python-under-callgrind"
    out = workdir / "callgrind.%p.out"
    script.write_text(
        "#!/bin/sh\n"
        f'exec {valgrind} --tool=callgrind --instr-atstart=no --callgrind-out-file="{out}" {sys.executable} "$@"\n'
    )
    script.chmod(0o755)
    return script


def _control(pid: int, *args: str) -> str:
    return subprocess.run(
        ["callgrind_control", *args, str(pid)], check=True, capture_output=True, text=True, timeout=120
    ).stdout


def _counted(pid: int, workdir: Path, run) -> int:
    """Instructions the router executes while `run()` runs: counting on, zeroed, `run()`, dumped, off."""
    _control(pid, "--instr=on")
    _control(pid, "--zero")
    run()
    before = set(workdir.glob("callgrind.*.out*"))
    _control(pid, "--dump")
    _control(pid, "--instr=off")
    dumps = sorted(set(workdir.glob("callgrind.*.out*")) - before, key=lambda p: p.stat().st_mtime)
    if not dumps:
        raise RuntimeError(f"callgrind_control --dump {pid} wrote no profile into {workdir}")
    text = dumps[-1].read_text(errors="replace")
    match = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
    if not match:
        raise RuntimeError(f"no instruction total in {dumps[-1]}")
    return int(match.group(1))


def _with_router_under_valgrind(worker_pids):
    """The node's worker_pids, plus the router: under valgrind its process title is not set, so it is
    found as the node's child that runs callgrind."""

    def pids() -> dict[str, int]:
        found = worker_pids()
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if any("callgrind" in word for word in child.cmdline()):
                    found["router"] = child.pid
        return found

    return pids


def measure(system: str, calls: int, repeat: int, workdir: Path) -> dict:
    variant = VARIANTS[system]
    config = sb_config(variant)
    S.router_worker(config).setdefault("options", {})["python"] = str(_wrapper(workdir))
    # one hash seed for both hubs: string hashing is the same in both, so dict and set work repeats
    hub = Hub(workdir / "hub", env={**LOADGEN_LIMITS, **variant.env, "PYTHONHASHSEED": "0"}, config=config)
    hub.node.worker_pids = _with_router_under_valgrind(hub.node.worker_pids)
    try:
        hub.start(timeout=START_TIMEOUT)
        pid = hub.worker_pid("router")
        per_call, per_event = [], []
        with hub.client(serializer="msgpack") as caller, hub.client(serializer="msgpack") as listener:
            sub = listener.subscribe(BENCH_TOPIC)

            def rpc(n):
                for i in range(n):
                    assert caller.call("demo.add2", i, 1) == i + 1

            def pubsub(n):
                for i in range(n):
                    caller.publish(BENCH_TOPIC, i, acknowledge=True)
                for i in range(n):
                    assert sub.get().args == (i,)

            rpc(WARMUP)
            pubsub(WARMUP)
            for _ in range(repeat):
                per_call.append(_counted(pid, workdir, lambda: rpc(calls)) / calls)
                per_event.append(_counted(pid, workdir, lambda: pubsub(calls)) / calls)
            published = _publications_counted(hub, BENCH_TOPIC)
        expected = WARMUP + repeat * calls if S.ENV_METRICS not in variant.env else 0
        if published != expected:
            raise RuntimeError(
                f"{system}: the broker counted {published} publications on {BENCH_TOPIC}, not {expected}"
            )
        return {"per_call": per_call, "per_event": per_event, "publications_counted": published}
    finally:
        hub.stop()


def _publications_counted(hub: Hub, topic: str) -> int:
    """The publications the broker counted on `topic`'s subscription (router/patches/counting.py), as
    the dashboard reads them."""
    with hub.admin_client() as admin:
        stats = admin.call("switchboard.admin.stats")
    return next(t["publications"] for t in stats["topics"] if t["uri"] == topic and t["match"] == "exact")


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}–{max(values):,.0f})"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls (and publishes) per counted window")
    parser.add_argument("--repeat", type=int, default=3, help="counted windows per workload and system")
    args = parser.parse_args(argv)
    started = time.monotonic()
    results = {}
    for name, system in RUNS:
        with tempfile.TemporaryDirectory(prefix=f"callgrind-{name}-") as tmp:
            results[name] = measure(system, args.calls, args.repeat, Path(tmp))
            print(name, results[name], flush=True)

    def change(a: str, b: str) -> dict:
        return {
            key: statistics.median(results[b][key]) / statistics.median(results[a][key]) - 1
            for key in ("per_call", "per_event")
        }

    cost, metrics, restart = (
        change("sb_unguarded", "switchboard"),
        change("sb_no_metrics", "switchboard"),
        change("switchboard", "switchboard_again"),
    )
    report = {
        "command": "python -m bench.router_instructions " + " ".join(argv or sys.argv[1:]),
        "calls": args.calls,
        "repeat": args.repeat,
        "seconds": round(time.monotonic() - started, 1),
        "machine": machine.info(),
        "instructions": results,
        "guards_cost": cost,
        "metrics_cost": metrics,
        "same_hub_restarted": restart,
    }
    m = report["machine"]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "router_instructions.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# What the guards and the metrics cost the router, in instructions",
        "",
        f"Generated by `{report['command'].strip()}` in {report['seconds']} s; how to read it: "
        "[docs/benchmarks.md](../../docs/benchmarks.md#what-the-guards-and-the-metrics-cost-in-instructions).",
        "",
        f"Router worker instructions (valgrind callgrind) per operation, median (min–max) of {args.repeat} "
        f"windows of {args.calls:,} sequential operations from one msgpack WebSocket session:",
        "",
        "| system | per RPC call (`demo.add2`) | per published event (1 subscriber, acknowledged) |",
        "| --- | ---: | ---: |",
    ]
    for name, system in RUNS:
        r = results[name]
        label = VARIANTS[system].short + (", started again" if name != system else "")
        lines.append(f"| {label} | {_cell(r['per_call'])} | {_cell(r['per_event'])} |")
    lines += [
        "",
        f"The guards change the router's instructions by **{cost['per_call']:+.1%}** per call and "
        f"**{cost['per_event']:+.1%}** per published event; the counting behind /metrics and the dashboard "
        "(messages, calls, publications per subscription) by "
        f"**{metrics['per_call']:+.1%}** per call and **{metrics['per_event']:+.1%}** per event; "
        "the same hub started a second time "
        f"differs from its first start by {restart['per_call']:+.1%} per call and {restart['per_event']:+.1%} "
        "per event.",
        "",
        f"Machine: {m['cpu_model']}, {m['cpus']} CPUs; Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if k in ("crossbar", "autobahn", "Twisted"))
        + ".",
    ]
    (RESULTS / "router_instructions.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Publishing from Django: Switchboard's HTTP bridge vs Django Channels' group_send, same machine, same run.

    python -m bench.django_publish            # full run (make bench), writes bench/results/django_publish.*
    python -m bench.django_publish --quick    # < 1 minute, writes test-results/bench/ instead

Starts a real Crossbar node with Switchboard's config (no demo components) and a real redis-server,
both on free loopback ports in a temp dir. For every scenario (bench.scenarios) and round it starts a
receiver process (a WAMP subscriber, or a channel in the group), then one synchronous Django load
generator process (bench.loadgen), and checks that the receiver got every measured event.
See docs/benchmarks.md for what each number means.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from switchboard.router.testing import redis_server

from bench import machine
from bench.params import Params, parse
from bench.peers_servers import LOADGEN_LIMITS
from bench.procstat import tree_cpu
from bench.report import render_markdown, update_docs
from bench.scenarios import SCENARIOS, Scenario, describe, label
from bench.stats import median_run, summarize_run

ROOT = Path(__file__).resolve().parent.parent
QUICK_OUT = ROOT / "test-results" / "bench"
RESULT_NAME = "django_publish"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def plan_cpus(pin: bool) -> dict:
    """Hub, Redis and receivers on one CPU, the load generator on another (when there are two)."""
    usable = sorted(os.sched_getaffinity(0))
    if not pin or len(usable) < 2:
        why = "disabled (--no-pin)" if not pin else f"only {len(usable)} usable CPU"
        return {
            "pinned": False,
            "server_cpu": None,
            "load_cpu": None,
            "usable": usable,
            "description": f"not pinned: {why}",
        }
    load_cpu, server_cpu = usable[0], usable[-1]
    return {
        "pinned": True,
        "server_cpu": server_cpu,
        "load_cpu": load_cpu,
        "usable": usable,
        "description": (
            f"load generator pinned to CPU {load_cpu}; Crossbar node (controller and router "
            f"worker), redis-server and the receiver process pinned to CPU {server_cpu} "
            "(os.sched_setaffinity, inherited by child processes); other processes on the "
            "machine were not moved"
        ),
    }


def _start_receiver(cfg: dict) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.receiver", json.dumps(cfg)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = _read_line(proc, timeout=60)
    if line.strip() != "READY":
        proc.kill()
        raise RuntimeError(f"receiver did not get ready (said {line!r}, exit {proc.poll()})")
    return proc


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        return ""
    return proc.stdout.readline()


def _finish_receiver(proc: subprocess.Popen, timeout: float) -> dict:
    try:
        proc.stdin.write("DONE\n")
        proc.stdin.flush()
    except BrokenPipeError:
        pass
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    for line in (out or "").splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"receiver gave no result (exit {proc.returncode})")


def _run_loadgen(cfg: dict, timeout: float) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", json.dumps(cfg)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
    raise RuntimeError(f"load generator exited {proc.returncode} without a result:\n{tail}")


def db_dir(workdir: Path) -> Path:
    """Where the outbox's SQLite file goes: tmpfs when there is one, so disk fsyncs do not dominate."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        path = shm / workdir.name
        path.mkdir(exist_ok=True)
        return path
    return workdir


def outbox_db_description(workdir: Path) -> str:
    where = db_dir(workdir)
    return (
        "SQLite file on tmpfs (/dev/shm): commits cost no disk flush"
        if str(where).startswith("/dev/shm")
        else f"SQLite file in {where} (disk): each commit waits for a flush"
    )


def run_scenario(scenario: Scenario, round_no: int, params: Params, cpus: dict, hub, redis, workdir: Path) -> dict:
    events = params.outbox_events if scenario.name == "sb_outbox" else params.events
    tag = f"r{round_no}-{scenario.name.replace('_', '-')}"
    base = {
        "scenario": scenario.name,
        "events": events,
        "warmup": params.warmup,
        "batch_size": params.batch_size,
        "payload_bytes": params.payload_bytes,
        "drain_timeout": params.drain_timeout,
    }
    recv_cfg = {**base, "receiver": scenario.receiver, "cpu": cpus["server_cpu"]}
    load_cfg = {**base, "cpu": cpus["load_cpu"]}
    if scenario.system == "switchboard":
        topic = f"chat.room.bench-{tag}"
        recv_cfg.update(ws_url=hub.url, realm=hub.realm, topic=topic)
        load_cfg.update(
            topic=topic, hub={"bridge_url": hub.bridge_url, "key": hub.bridge_key, "secret": hub.bridge_secret}
        )
        if scenario.name == "sb_outbox":
            load_cfg.update(outbox=True, db_path=str(db_dir(workdir) / f"outbox-{tag}.sqlite3"))
        server_pid = hub.node.process.pid
    else:
        group = f"bench-{tag}"
        layer = {
            "layer": scenario.layer,
            "group": group,
            "redis": {"host": redis.host, "port": redis.port},
            # Room for every event: the layer drops (and logs) messages over capacity (default 100).
            "capacity": max(100, events + params.warmup),
        }
        recv_cfg.update(layer)
        load_cfg.update(layer)
        server_pid = redis.pid

    receiver = _start_receiver(recv_cfg)
    try:
        redis_before = redis.stats()["total_connections_received"] if scenario.system == "channels" else None
        cpu_before = tree_cpu([server_pid])
        load = _run_loadgen(load_cfg, timeout=90 + (events + params.warmup) * 0.05)
        server_cpu = tree_cpu([server_pid]) - cpu_before
        if redis_before is not None:
            # minus the INFO connection of this second stats() call; includes the receiver's none (already open)
            load["redis_connections_opened"] = redis.stats()["total_connections_received"] - redis_before - 1
        result = _finish_receiver(receiver, timeout=params.drain_timeout + 30)
    except BaseException:
        receiver.kill()
        raise
    return summarize_run(
        load, result, server_cpu, scenario.unit, extra={"round": round_no, "loadgen_affinity": load.get("affinity")}
    )


def _run_all(
    params: Params,
    scenarios: list[Scenario],
    cpus: dict,
    info: dict,
    workdir: Path,
    needs_redis: bool,
    runs: dict,
    errors: dict,
) -> None:
    """Start Redis and the hub, then run every scenario once per round, appending to `runs`/`errors`."""
    from switchboard.bridge.client import HubClient
    from switchboard.router.testing.hub import Hub

    redis_ctx = redis_server.started(workdir / "redis") if needs_redis else _null()
    with (
        redis_ctx as redis,
        Hub.started(workdir / "hub", with_components=False, loglevel=params.hub_loglevel, env=LOADGEN_LIMITS) as hub,
    ):
        with HubClient(hub.bridge_url, hub.bridge_key, hub.bridge_secret) as probe:
            deadline = time.monotonic() + 30
            while not probe.health():
                if time.monotonic() > deadline:
                    raise RuntimeError("the hub's bridge did not become healthy within 30 s")
                time.sleep(0.1)
        log(f"hub at {hub.http_url}" + (f", redis-server on port {redis.port}" if redis else ""))
        info["outbox_db"] = outbox_db_description(workdir)
        for round_no in range(1, params.rounds + 1):
            shift = (round_no - 1) % len(scenarios)
            for scenario in scenarios[shift:] + scenarios[:shift]:  # rotate: no scenario always goes first
                t0 = time.monotonic()
                try:
                    run = run_scenario(scenario, round_no, params, cpus, hub, redis, workdir)
                except Exception as e:  # recorded; a core scenario failing fails the run below
                    errors.setdefault(scenario.name, []).append(f"round {round_no}: {e}")
                    log(f"{scenario.name} round {round_no} FAILED: {e}")
                    continue
                runs[scenario.name].append(run)
                log(
                    f"{scenario.name:<24} round {round_no}: {run['publishes_per_s']:>9,.0f}/s  "
                    f"p50 {run['latency_ms']['p50']:.3f} ms  received {run.get('received')}/{run['sent']}  "
                    f"({time.monotonic() - t0:.1f} s)"
                )


def main(argv: list[str] | None = None) -> int:
    params = parse(argv)
    names = list(params.scenarios) or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    scenarios = [SCENARIOS[n] for n in names]
    needs_redis = any(s.system == "channels" for s in scenarios)
    redis_binary = None
    if needs_redis:
        try:
            redis_binary = redis_server.find_binary()
        except redis_server.RedisMissing as e:
            print(f"error: {e}", file=sys.stderr)
            return 2

    info = machine.info(redis_binary)
    cpus = plan_cpus(params.pin)
    if cpus["pinned"]:
        os.sched_setaffinity(0, {cpus["server_cpu"]})  # the hub, Redis and receivers inherit it
    started = datetime.now(timezone.utc)
    log(f"{len(scenarios)} scenario(s) x {params.rounds} round(s), {params.events} events each; {cpus['description']}")

    runs: dict[str, list[dict]] = {s.name: [] for s in scenarios}
    errors: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
        workdir = Path(tmp)
        try:
            _run_all(params, scenarios, cpus, info, workdir, needs_redis, runs, errors)
        finally:
            shutil.rmtree(Path("/dev/shm") / workdir.name, ignore_errors=True)
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    data = build_results(params, scenarios, runs, errors, info, cpus, started)
    out_dir = QUICK_OUT if params.quick and params.out_dir == Params().out_dir else ROOT / params.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{RESULT_NAME}.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    markdown = render_markdown(data)
    (out_dir / f"{RESULT_NAME}.md").write_text(markdown, encoding="utf-8")
    if not params.quick and out_dir == ROOT / Params().out_dir:
        update_docs(ROOT / "docs" / "benchmarks.md", data)
    print(markdown)
    log(f"results: {out_dir / RESULT_NAME}.md and .json")
    failed = data["failed"]
    if failed:
        log("FAILED core scenario(s): " + "; ".join(failed))
        return 1
    return 0


def build_results(
    params: Params, scenarios: list[Scenario], runs: dict, errors: dict, info: dict, cpus: dict, started: datetime
) -> dict:
    rows, failed = [], []
    for s in scenarios:
        row = {
            "scenario": s.name,
            "system": s.system,
            "label": label(s, params.batch_size),
            "description": describe(s, params.batch_size),
            "core": s.core,
            "rounds": runs[s.name],
            "errors": errors.get(s.name, []),
        }
        if runs[s.name]:
            row["median"] = median_run(runs[s.name])
            rates = [r["publishes_per_s"] for r in runs[s.name]]
            row["publishes_per_s_range"] = [min(rates), max(rates)]
            undelivered = [r for r in runs[s.name] if r.get("received") != r["sent"]]
            if undelivered:
                row["errors"].append(f"{len(undelivered)} round(s) delivered fewer events than sent")
        if s.core and (not runs[s.name] or row["errors"]):
            failed.append(f"{s.name}: {'; '.join(row['errors']) or 'no run'}")
        rows.append(row)
    by_name = {r["scenario"]: r for r in rows}

    def rate(name):
        row = by_name.get(name)
        return row["median"]["publishes_per_s"] if row and row.get("median") else None

    ratios = {}
    for key, (a, b) in {
        "sequential: sb_publish / ch_group_send": ("sb_publish", "ch_group_send"),
        "batched: sb_publish_many / ch_group_send": ("sb_publish_many", "ch_group_send"),
        "batched: sb_publish_many / ch_group_send_chunked": ("sb_publish_many", "ch_group_send_chunked"),
        "outbox: sb_outbox / ch_group_send": ("sb_outbox", "ch_group_send"),
    }.items():
        if rate(a) and rate(b):
            ratios[key] = round(rate(a) / rate(b), 2)
    return {
        "benchmark": RESULT_NAME,
        "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": round((datetime.now(timezone.utc) - started).total_seconds(), 1),
        "command": " ".join(["python -m bench.django_publish", *sys.argv[1:]]),
        "params": params.as_dict(),
        "machine": info,
        "cpu_pinning": cpus,
        "rows": rows,
        "ratios": ratios,
        "failed": failed,
        "channels_batch_api": None,
    }


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    sys.exit(main())

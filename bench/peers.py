"""Switchboard and its peers on the same workloads, in the same run, with the same load generator.

    python -m bench.peers            # full run (make bench), writes bench/results/peers.{md,json,png}
    python -m bench.peers --quick    # about 2 minutes, writes test-results/bench/ instead

Systems (bench.peers_servers): Switchboard's hub (a real Crossbar node with the committed config and its
components, as `make run` starts it; `--tuning` adds variants with one setting changed each), the
ceiling (a bare Autobahn/Twisted broadcast server with pre-serialized frames), python-socketio on
aiohttp, and Django Channels (daphne + channels_redis + a real redis-server). Workloads
(bench.peers_loadgen): fan-out to N subscribers, RPC with C concurrent callers, K idle connections.
One server at a time, pinned to one CPU; the load generator (one asyncio process per run) pinned to
the other. See docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from bench import machine, peers_servers, report, stats
from bench.django_publish import plan_cpus
from bench.peers_params import DEFAULT_SYSTEMS, TUNING, PeersParams, parse
from bench.peers_servers import LABELS, PEERS, SHORT, VARIANTS
from bench.procstat import established, rss, tree_cpu

ROOT = Path(__file__).resolve().parent.parent
QUICK_OUT = ROOT / "test-results" / "bench"
EXTRA_PACKAGES = ("python-socketio", "python-engineio", "aiohttp", "daphne", "matplotlib")


def log(message: str) -> None:
    print(f"[peers {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _result(line: str) -> dict | None:
    return json.loads(line[len("RESULT ") :]) if line.startswith("RESULT ") else None


def run_loadgen(cfg: dict, server, timeout: float, hold=None) -> dict:
    """One load generator process; `hold(result)` runs while a connections run holds its sessions."""
    cpu0, t0 = tree_cpu(server.cpu_pids()), time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.peers_loadgen", json.dumps(cfg)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    result, extra = None, {}
    try:
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while result is None and time.monotonic() < deadline:
            if not sel.select(max(0.1, deadline - time.monotonic())):
                break
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("HOLDING ") and hold:
                extra = hold(json.loads(line[len("HOLDING ") :]))
                proc.stdin.write("DONE\n")
                proc.stdin.flush()
            result = _result(line)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    wall = time.monotonic() - t0
    if result is None:
        tail = "\n".join((proc.stderr.read() or "").strip().splitlines()[-8:])
        return {"error": f"load generator gave no result (exit {proc.returncode}): {tail}"}
    server_cpu = tree_cpu(server.cpu_pids()) - cpu0
    result.update(extra, server_cpu_s=round(server_cpu, 3), loadgen_process_wall_s=round(wall, 2))
    return result


def settle(server, limit_s: float = 60.0) -> float:
    """Wait until the server's processes are idle again (under 10% of a CPU over 0.5 s), e.g. after
    10,000 connections closed at once; a busy server would fail the next run's handshakes."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        before = tree_cpu(server.cpu_pids())
        time.sleep(0.5)
        if tree_cpu(server.cpu_pids()) - before < 0.05:
            break
    return time.monotonic() - t0


def run_connections(name: str, server, base: dict, params: PeersParams) -> dict:
    """K idle sessions on a fresh server; memory of the process holding them, before and while held,
    per session the server still holds then (counted on its side: a session the server dropped, say
    for unanswered pings, would make the memory per session look smaller)."""
    settle(server)
    pids = server.rss_pids()
    port = urlsplit(server.url).port
    before = rss(pids)

    def hold(opened: dict) -> dict:
        settle(server)  # buffers and handshakes done before reading its memory
        after, held = rss(pids), established(pids, port)
        return {
            "rss_before_mb": round(before / 2**20, 1),
            "rss_after_mb": round(after / 2**20, 1),
            "held": held,
            "rss_per_session_kb": round((after - before) / max(held, 1) / 1024, 1),
            "measured_process": server.rss_label,
        }

    cfg = {
        **base,
        "workload": "connections",
        "connections": params.connections,
        "parallel": params.connect_parallel,
        "timeout": 600,
    }
    r = run_loadgen(cfg, server, timeout=400, hold=hold)
    if "error" in r:
        log(f"{name} connections: ERROR {r['error']}")
    else:
        log(
            f"{name:<17} connections {r['opened']:,}/{r['requested']:,} held {r.get('held', 0):,} "
            f"{r['connects_per_s']:,.0f}/s  "
            f"RSS/session {r.get('rss_per_session_kb')} KiB  failed {r['failed']}"
        )
    return r


def run_fanout(name: str, server, base: dict, params: PeersParams, n: int) -> dict:
    cfg = {
        **base,
        "workload": "fanout",
        "subscribers": n,
        "events": params.fanout_events,
        "seconds": params.fanout_seconds,
        "warmup": params.fanout_warmup,
        "window": max(2, params.fanout_in_flight // n),
        "unloaded_events": params.fanout_unloaded_events,
        "unloaded_seconds": params.fanout_unloaded_seconds,
        "paced_seconds": params.fanout_paced_seconds,
        "paced_fraction": params.fanout_paced_fraction,
        "payload_bytes": params.payload_bytes,
        "stall_timeout": params.stall_timeout,
        "timeout": 240,
    }
    r = run_loadgen(cfg, server, timeout=260)
    if "error" in r:
        log(f"{name} fanout N={n}: ERROR {r['error']}")
    else:
        u = (r.get("unloaded") or {}).get("latency_ms") or {}
        p = (r.get("paced") or {}).get("latency_ms") or {}
        log(
            f"{name:<17} fanout N={n:<5} {r.get('deliveries_per_s') or 0:>9,} deliveries/s  "
            f"p50 {r['latency_ms'].get('p50')} p99 {r['latency_ms'].get('p99')} ms (unloaded p99 {u.get('p99')}, "
            f"paced p99 {p.get('p99')})  lost {r.get('lost')}  loadgen CPU {r.get('loadgen_cpu_share') or 0:.0%}"
        )
    return r


def run_rpc(name: str, server, base: dict, params: PeersParams, c: int) -> dict:
    cfg = {**base, "workload": "rpc", "concurrency": c, "seconds": params.rpc_seconds, "timeout": 120}
    r = run_loadgen(cfg, server, timeout=140)
    if "error" in r:
        log(f"{name} rpc C={c}: ERROR {r['error']}")
    else:
        log(
            f"{name:<17} rpc C={c:<4} {r['calls_per_s']:>9,.0f} calls/s  p50 {r['latency_ms']['p50']} "
            f"p99 {r['latency_ms']['p99']} ms  errors {r['errors']}  loadgen CPU {r['loadgen_cpu_share']:.0%}"
        )
    return r


def run_system(name: str, params: PeersParams, cpus: dict, workdir: Path) -> dict:
    """Connections on a server of their own (a fresh heap, and closing K sessions at once leaves no
    backlog for the next run), then fan-out and RPC on another fresh one."""
    out: dict = {"fanout": {}, "rpc": {}, "connections": None}
    if "connections" in params.workloads and (name not in VARIANTS or VARIANTS[name].connections):
        with peers_servers.running(name, workdir / f"{name}-connections") as server:
            base = {**server.loadgen_cfg(), "cpu": cpus["load_cpu"], "server_pids": server.cpu_pids()}
            out["connections"] = run_connections(name, server, base, params)
    if {"fanout", "rpc"} & set(params.workloads):
        t0 = time.monotonic()
        with peers_servers.running(name, workdir / name) as server:
            out["startup_s"] = round(time.monotonic() - t0, 1)
            base = {**server.loadgen_cfg(), "cpu": cpus["load_cpu"], "server_pids": server.cpu_pids()}
            if "fanout" in params.workloads:
                for n in params.fanout_subscribers:
                    out["fanout"][str(n)] = run_fanout(name, server, base, params, n)
            if "rpc" in params.workloads:
                for c in params.rpc_concurrency:
                    out["rpc"][str(c)] = run_rpc(name, server, base, params, c)
    return out


#: the number each workload's cells are ranked by across rounds
HEADLINE = {"fanout": "deliveries_per_s", "rpc": "calls_per_s", "connections": "rss_per_session_kb"}


def median_run(cells: list[dict | None], key: str) -> dict | None:
    """The round whose `key` is the median of the rounds that gave one, with every round's value
    under "rounds"; the first error when no round gave a result."""
    good = [c for c in cells if c and c.get(key) is not None]
    if not good:
        return next((c for c in cells if c), None)
    chosen = dict(stats.median_run(good, key))
    chosen["rounds"] = [c.get(key) if c else None for c in cells]
    return chosen


def merge_rounds(results: list[dict]) -> dict:
    """One system's rounds as one result: each cell is its median round (`rounds` holds them all)."""
    if len(results) == 1:
        return results[0]
    merged: dict = {"fanout": {}, "rpc": {}, "connections": None}
    for workload in ("fanout", "rpc"):
        keys = {k for r in results for k in (r.get(workload) or {})}
        for k in keys:
            merged[workload][k] = median_run([(r.get(workload) or {}).get(k) for r in results], HEADLINE[workload])
    merged["connections"] = median_run([r.get("connections") for r in results], HEADLINE["connections"])
    errors = [r["error"] for r in results if "error" in r]
    if errors and len(errors) == len(results):
        merged["error"] = errors[0]
    return merged


def spread(r: dict, digits: int = 0) -> str:
    """ " (min–max over rounds)" when there were several."""
    values = [v for v in r.get("rounds") or () if v is not None]
    return f" ({_n(min(values), digits)}–{_n(max(values), digits)})" if len(values) > 1 else ""


# ---------------------------------------------------------------- report


def _n(v, d=0) -> str:
    return "–" if v is None else f"{v:,.{d}f}"


def _ratio(a, b) -> str:
    return "–" if not a or not b else f"{a / b:.2f}×"


def fanout_table(data: dict) -> str:
    systems = data["systems"]
    lines = [
        "| system | N | deliveries/s | events/s | % of ceiling | 1 event in flight: p50 / p99 ms "
        "| at half that rate: p50 / p99 ms | saturated: p50 / p99 / max ms | lost | server CPU "
        "| load generator CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n in data["params"]["fanout_subscribers"]:
        ceiling = (systems.get("ceiling", {}).get("fanout", {}).get(str(n)) or {}).get("deliveries_per_s")
        for name, res in systems.items():
            r = res.get("fanout", {}).get(str(n))
            if not r:
                continue
            if "error" in r:
                lines.append(f"| {SHORT[name]} | {n:,} | failed: {r['error'][:90]} | | | | | | | | |")
                continue
            lat = r["latency_ms"]
            u = (r.get("unloaded") or {}).get("latency_ms") or {}
            p = (r.get("paced") or {}).get("latency_ms") or {}
            lost = sum((phase or {}).get("lost") or 0 for phase in (r, r.get("unloaded"), r.get("paced")))
            frac = "–" if not ceiling or name == "ceiling" else f"{r['deliveries_per_s'] / ceiling:.0%}"
            srv = "–" if r.get("server_cpu_share") is None else f"{r['server_cpu_share']:.0%}"
            lines.append(
                f"| {SHORT[name]} | {n:,} | **{_n(r['deliveries_per_s'])}**{spread(r)} "
                f"| {_n(r['events_per_s'], 1)} "
                f"| {frac} | {_n(u.get('p50'), 2)} / {_n(u.get('p99'), 2)} "
                f"| {_n(p.get('p50'), 2)} / **{_n(p.get('p99'), 2)}** "
                f"| {_n(lat['p50'], 1)} / {_n(lat['p99'], 1)} / {_n(lat['max'], 1)} | {lost:,} | {srv} "
                f"| {r['loadgen_cpu_share']:.0%} |"
            )
    return "\n".join(lines)


def rpc_table(data: dict) -> str:
    systems = data["systems"]
    cs = data["params"]["rpc_concurrency"]
    lines = [
        "| system | " + " | ".join(f"C={c}: calls/s, p50 / p99 ms" for c in cs) + " | load generator CPU (max) |",
        "| --- | " + " | ".join("---:" for _ in cs) + " | ---: |",
    ]
    for name, res in systems.items():
        if not res.get("rpc"):
            continue
        cells, shares = [], []
        for c in cs:
            r = res["rpc"].get(str(c))
            if not r or "error" in r:
                cells.append("failed")
                continue
            shares.append(r["loadgen_cpu_share"])
            err = f" ({r['errors']} errors)" if r["errors"] else ""
            lat = r["latency_ms"]
            cells.append(f"**{_n(r['calls_per_s'])}**{spread(r)}, {_n(lat['p50'], 2)} / {_n(lat['p99'], 2)}{err}")
        share = f"{max(shares):.0%}" if shares else "–"
        lines.append(f"| {SHORT[name]} | " + " | ".join(cells) + f" | {share} |")
    return "\n".join(lines)


def conn_table(data: dict) -> str:
    lines = [
        "| system | sessions opened | held by the server | connects/s | server RSS before → holding (MiB) "
        "| RSS per held session (KiB) | measured process | load generator CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for name, res in data["systems"].items():
        r = res.get("connections")
        if not r:
            continue
        if "error" in r:
            lines.append(f"| {SHORT[name]} | failed: {r['error'][:80]} | | | | | | |")
            continue
        lines.append(
            f"| {SHORT[name]} | {r['opened']:,} / {r['requested']:,} | {_n(r.get('held'))} "
            f"| **{_n(r['connects_per_s'])}** "
            f"| {_n(r.get('rss_before_mb'), 0)} → {_n(r.get('rss_after_mb'), 0)} "
            f"| **{_n(r.get('rss_per_session_kb'), 1)}**{spread(r, 1)} "
            f"| {r.get('measured_process', '–')} | {r['loadgen_cpu_share']:.0%} |"
        )
    return "\n".join(lines)


def ratios(data: dict) -> dict:
    """Each Switchboard variant's headline numbers divided by each peer's, where both have one."""
    p = data["params"]
    metrics = (
        [(f"fanout N={n}", ("fanout", str(n), "deliveries_per_s")) for n in p["fanout_subscribers"]]
        + [(f"rpc C={c}", ("rpc", str(c), "calls_per_s")) for c in p["rpc_concurrency"]]
        + [("RSS per session", ("connections", "rss_per_session_kb"))]
    )

    def get(name, path):
        node = data["systems"].get(name)
        for key in path:
            node = (node or {}).get(key)
        return node

    out = {}
    for sb in (k for k in data["systems"] if k in VARIANTS):
        for label, path in metrics:
            mine = get(sb, path)
            for peer in PEERS:
                theirs = get(peer, path)
                if mine and theirs:
                    out[f"{label}: {SHORT[sb]} / {SHORT[peer]}"] = round(mine / theirs, 2)
    return out


def machine_line(data: dict) -> str:
    mi = data["machine"]
    pk = {**mi["packages"], **mi.get("extra_packages", {})}
    pkgs = ", ".join(
        f"{k} {v}"
        for k, v in pk.items()
        if v
        and k
        in (
            "crossbar",
            "autobahn",
            "Twisted",
            "python-socketio",
            "python-engineio",
            "aiohttp",
            "Django",
            "channels",
            "channels_redis",
            "daphne",
            "redis",
        )
    )
    return (
        f"{mi['cpu_model']}, {mi['cpus']} CPUs ({mi['cpus_usable']} usable), {mi['memory_gib']} GiB, {mi['os']}; "
        f"Python {mi['python']}; {pkgs}; redis-server {mi.get('redis_server')}. "
        f"Load average at start {mi['loadavg_start']}, at end {mi.get('loadavg_end')}."
    )


def systems_list(data: dict) -> str:
    return "\n".join(f"- **{SHORT[name]}** (`{name}`): {LABELS[name]}" for name in data["systems"])


def tables(data: dict) -> str:
    p = data["params"]
    rat = "\n".join(f"- {k}: **{v:.2f}×**" for k, v in data["ratios"].items()) or "(none)"
    parts = [f"Systems:\n\n{systems_list(data)}"]
    if "fanout" in p["workloads"]:
        parts.append(f"""**Fan-out** (1 publisher → N subscribers, a {p["payload_bytes"]}-byte JSON object as
payload; deliveries/s = events received by all subscribers together, with at most
max(2, {p["fanout_in_flight"]:,} ÷ N) events in flight, up to {p["fanout_events"]:,} events or {p["fanout_seconds"]} s;
latency = subscriber's `time.time_ns()` − publisher's, over every delivery: with one event in flight, then at
{p["fanout_paced_fraction"]:.0%} of the saturated event rate for {p["fanout_paced_seconds"]} s, then saturated
(measured in the order saturated, paced); CPU shares over the saturated phase, 100% = one core):

{fanout_table(data)}""")
    if "rpc" in p["workloads"]:
        parts.append(f"""**RPC** (C callers, each on its own WebSocket, one call at a time, {p["rpc_seconds"]} s per run
after 0.5 s warm-up; Switchboard: `demo.add2` through the router to the demo component's process; python-socketio:
an acknowledged emit answered by the server itself; Channels: a request/response message answered by the consumer
itself; ceiling: answered by the server itself):

{rpc_table(data)}""")
    if "connections" in p["workloads"]:
        parts.append(f"""**Connections** ({p["connections"]:,} idle WebSocket sessions,
{p["connect_parallel"]} handshakes in flight, on a fresh server; Switchboard sessions complete the WAMP
HELLO/WELCOME, python-socketio the Engine.IO/Socket.IO connect):

{conn_table(data)}""")
    parts += [
        f"Ratios:\n\n{rat}",
        f"Machine: {machine_line(data)}",
        f"CPU pinning: {data['cpu_pinning']['description']}.",
    ]
    return "\n\n".join(parts)


def render(data: dict) -> str:
    quick = " (QUICK RUN: small numbers, not for comparison)" if data["params"]["quick"] else ""
    return f"""# Switchboard and its peers, side by side{quick}

Generated by `{data["command"]}` at {data["started_utc"]} in {data["duration_s"]} s.
How to read it: [docs/benchmarks.md](../../docs/benchmarks.md#switchboard-and-its-peers-side-by-side).

{tables(data)}

Switchboard's config for this run: the committed `.crossbar/config.json` with its components, plus one permission
(anonymous may publish and subscribe under `bench.`), and each variant's one change.
"""


def update_docs(data: dict) -> bool:
    """Replace the run's section of docs/benchmarks.md (between its `bench:<name>` markers)."""
    name = data["params"]["name"]
    return report.replace_docs_section(
        name, f"Latest full run: {data['started_utc']} (`bench/results/{name}.md`).\n\n{tables(data)}"
    )


def charts(data: dict, out_dir: Path) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        if os.environ.get("CI"):
            raise
        log("matplotlib is not installed: no charts (make bench installs it)")
        return []
    systems = data["systems"]
    names = [n for n in systems]
    labels = [SHORT[n] for n in names]
    written = []
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ns = data["params"]["fanout_subscribers"]
    width = 0.8 / max(1, len(ns))
    for i, n in enumerate(ns):
        vals = [((systems[s].get("fanout") or {}).get(str(n)) or {}).get("deliveries_per_s") or 0 for s in names]
        axes[0].bar([x + i * width for x in range(len(names))], vals, width, label=f"N={n:,}")
        paced = [(((systems[s].get("fanout") or {}).get(str(n)) or {}).get("paced") or {}) for s in names]
        p99 = [(p.get("latency_ms") or {}).get("p99") or 0 for p in paced]
        axes[1].bar([x + i * width for x in range(len(names))], p99, width, label=f"N={n:,}")
    axes[0].set_title("Fan-out: deliveries/s (higher is better)")
    axes[1].set_title("Fan-out: latency p99 at half the peak rate, ms (lower is better)")
    axes[1].set_yscale("log")
    cs = data["params"]["rpc_concurrency"]
    width_c = 0.8 / max(1, len(cs))
    for i, c in enumerate(cs):
        vals = [((systems[s].get("rpc") or {}).get(str(c)) or {}).get("calls_per_s") or 0 for s in names]
        axes[2].bar([x + i * width_c for x in range(len(names))], vals, width_c, label=f"C={c}")
    axes[2].set_title("RPC: calls/s (higher is better)")
    for ax in axes:
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(names))])
        ax.set_xticklabels(labels, rotation=25, ha="right", fontsize=8)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / f"{data['params']['name']}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    written.append(str(path))
    conn = [(SHORT[s], systems[s]["connections"]) for s in names if (systems[s].get("connections") or {}).get("opened")]
    if conn:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        axes[0].bar([c[0] for c in conn], [c[1]["connects_per_s"] for c in conn])
        axes[0].set_title("Connections: connects/s")
        axes[1].bar([c[0] for c in conn], [c[1].get("rss_per_session_kb") or 0 for c in conn])
        axes[1].set_title("Server RSS per idle session, KiB (lower is better)")
        for ax in axes:
            ax.tick_params(axis="x", labelrotation=25, labelsize=8)
        fig.tight_layout()
        path = out_dir / f"{data['params']['name']}_connections.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(str(path))
    return written


def main(argv: list[str] | None = None) -> int:
    params = parse(argv)
    if "channels" in params.systems:
        try:
            redis_bin = peers_servers.redis_server.find_binary()
        except peers_servers.redis_server.RedisMissing as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    else:
        redis_bin = None
    info = machine.info(redis_bin)
    from importlib import metadata

    info["extra_packages"] = {}
    for pkg in EXTRA_PACKAGES:
        try:
            info["extra_packages"][pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            info["extra_packages"][pkg] = None
    cpus = plan_cpus(params.pin)
    if cpus["pinned"]:
        os.sched_setaffinity(0, {cpus["server_cpu"]})  # every server inherits it
        cpus["description"] = (
            "every server process (Crossbar node and workers, the ceiling, python-socketio, "
            f"daphne, redis-server) pinned to CPU {cpus['server_cpu']}; each load generator process "
            f"pinned to CPU {cpus['load_cpu']} (os.sched_setaffinity); one server runs at a time; "
            "other processes on the machine were not moved"
        )
        widened = [name for name in params.systems if name in VARIANTS and VARIANTS[name].all_cpus]
        if widened:
            cpus["description"] += (
                f"; except {', '.join(widened)}, whose node and workers were allowed every "
                "CPU once started (the load generator's too)"
            )
    started = datetime.now(timezone.utc)
    log(f"systems {', '.join(params.systems)}; workloads {', '.join(params.workloads)}; {cpus['description']}")
    runs: dict[str, list] = {name: [] for name in params.systems}
    with tempfile.TemporaryDirectory(prefix="switchboard-peers-") as tmp:
        for round_no in range(params.rounds):  # rounds interleave the systems: slow drifts hit all alike
            for name in params.systems:
                try:
                    runs[name].append(run_system(name, params, cpus, Path(tmp) / f"round{round_no}"))
                except Exception as e:  # recorded; the other systems still run
                    log(f"{name} FAILED: {e}")
                    runs[name].append({"error": str(e), "fanout": {}, "rpc": {}, "connections": None})
    systems = {name: merge_rounds(results) for name, results in runs.items()}
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    data = {
        "benchmark": "peers",
        "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": round((datetime.now(timezone.utc) - started).total_seconds(), 1),
        "command": " ".join(["python -m bench.peers", *(argv if argv is not None else sys.argv[1:])]),
        "params": params.as_dict(),
        "machine": info,
        "cpu_pinning": cpus,
        "labels": LABELS,
        "systems": systems,
    }
    data["ratios"] = ratios(data)
    out_dir = QUICK_OUT if params.quick and params.out_dir == PeersParams().out_dir else ROOT / params.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    data["charts"] = charts(data, out_dir)
    (out_dir / f"{params.name}.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    markdown = render(data)
    (out_dir / f"{params.name}.md").write_text(markdown, encoding="utf-8")
    complete = set(params.systems) >= set(TUNING["systems"] if params.name == TUNING["name"] else DEFAULT_SYSTEMS)
    if not params.quick and out_dir == ROOT / PeersParams().out_dir and complete:
        update_docs(data)
    print(markdown)
    log(
        f"results: {out_dir}/{params.name}.md, .json"
        + (", charts " + ", ".join(data["charts"]) if data["charts"] else "")
    )
    return 1 if any("error" in s for s in systems.values()) else 0


if __name__ == "__main__":
    sys.exit(main())

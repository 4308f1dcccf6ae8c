"""What a cluster costs, in one run: fan-out with the subscribers on 1, 2 and 3 nodes against a node of
its own, and RPC to a procedure on the caller's node against one on another node.

`python -m bench.cluster [--quick] [--subscribers N] [--events E] [--rpc-seconds S] [--out DIR]`
(`make bench-cluster`). Every system runs on this machine's two cores beside the load generator, so
read the ratios, not the absolute numbers:

- fan-out: one publisher on node A, N subscribers spread round-robin over the first k nodes, through
  bench.peers_loadgen (windowed publishing, every event delivered to every subscriber). Server CPU
  is every node's processes and Redis over the loaded phase; "CPU per delivery" is that divided by
  the deliveries.
- RPC: `bench.echo` registered by one backend session on node A; C callers on node A (local) or on
  node B (forwarded through Redis, router/patches/calls.py), one call in flight each.

`--idle N [--idle-nodes K]` instead holds N idle sessions over K nodes (a load generator process
per node: one process may hold at most 20,000 descriptors here, on either side), and reports how
many each node's router holds and its memory per session.

Results: bench/results/cluster.json and cluster.md (docs/scaling.md quotes them); an idle run
writes cluster_idle.json and cluster_idle.md.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from switchboard.router import settings as S
from switchboard.router.testing.cluster import Cluster
from switchboard.router.testing.hub import Hub

from bench.peers import _result, log, run_loadgen, settle
from bench.peers_servers import LOADGEN_LIMITS
from bench.procstat import established, rss

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"
TOPIC = "bench.fanout"
PROCEDURE = "bench.echo"


def bench_config() -> dict:
    """The app's config, with anonymous sessions (the load generator's) allowed to call, publish and
    subscribe under bench."""
    config = S.load_config(S.CONFIG_FILE)
    for role in S.router_worker(config)["realms"][0]["roles"]:
        if role["name"] == "anonymous":
            role["permissions"].append(
                {"uri": "bench.", "match": "prefix", "allow": {"call": True, "publish": True, "subscribe": True},
                 "cache": True}
            )  # fmt: skip
    return config


class Servers:
    """The processes whose CPU a run counts: every node's tree, and Redis."""

    def __init__(self, hubs, redis=None):
        self.hubs, self.redis = hubs, redis

    def cpu_pids(self) -> list[int]:
        pids = [hub.node.process.pid for hub in self.hubs if hub.node.running]
        if self.redis is not None and self.redis.process is not None:
            pids.append(self.redis.pid)
        return pids


def fanout(name: str, servers: Servers, urls: list[str], realm: str, args) -> dict:
    cfg = {
        "protocol": "wamp",
        "url": urls[0],
        "urls": urls,
        "realm": realm,
        "topic": TOPIC,
        "workload": "fanout",
        "subscribers": args.subscribers,
        "events": args.events,
        "seconds": args.seconds,
        "warmup": 20,
        "window": max(2, 2000 // args.subscribers),
        "unloaded_events": 20,
        "unloaded_seconds": 5,
        "paced_seconds": 0,
        "paced_fraction": 0.5,
        "payload_bytes": 64,
        "stall_timeout": 20,
        "timeout": 240,
        "server_pids": servers.cpu_pids(),
    }
    r = run_loadgen(cfg, servers, timeout=260)
    if "error" in r:
        log(f"{name}: ERROR {r['error']}")
        return r
    # the loaded phase's server CPU (a share of one CPU over its wall time) per delivery
    share, rate = r.get("server_cpu_share"), r.get("deliveries_per_s")
    r["cpu_us_per_delivery"] = round(share / rate * 1e6, 2) if share and rate else None
    log(
        f"{name:<38} {rate or 0:>9,} deliveries/s  {r['cpu_us_per_delivery']} µs server CPU per delivery  "
        f"lost {r.get('lost')}  p50 {(r.get('latency_ms') or {}).get('p50')} ms"
    )
    return r


def rpc(name: str, servers: Servers, url: str, realm: str, concurrency: int, args) -> dict:
    cfg = {
        "protocol": "wamp",
        "url": url,
        "realm": realm,
        "topic": TOPIC,
        "procedure": PROCEDURE,
        "workload": "rpc",
        "concurrency": concurrency,
        "seconds": args.rpc_seconds,
        "timeout": 120,
    }
    r = run_loadgen(cfg, servers, timeout=140)
    if "error" in r:
        log(f"{name}: ERROR {r['error']}")
        return r
    log(
        f"{name:<22} C={concurrency:<3} {r['calls_per_s']:>8,.0f} calls/s  p50 {r['latency_ms']['p50']} "
        f"p99 {r['latency_ms']['p99']} ms  errors {r['errors']}"
    )
    return r


def run(args) -> dict:
    results: dict = {"machine": {"cpus": len(os.sched_getaffinity(0))}, "fanout": {}, "rpc": {}}
    config = bench_config()
    with tempfile.TemporaryDirectory(prefix="sb-bench-cluster-") as tmp:
        tmp = Path(tmp)
        env = dict(LOADGEN_LIMITS)  # the load generator's sessions all come from 127.0.0.1
        with Hub.started(tmp / "alone", config=config, with_components=False, env=env) as alone:
            results["fanout"]["one node, no cluster"] = fanout(
                "one node, no cluster", Servers([alone]), [alone.url], alone.realm, args
            )
        with Cluster.started(tmp / "cluster", nodes=3, config=config, with_components=False, env=env) as cluster:
            hubs, servers = cluster.hubs, Servers(cluster.hubs, cluster.redis)
            for k in (1, 2, 3):
                name = f"cluster, subscribers on {k} node{'s' if k > 1 else ''}"
                settle(servers)
                results["fanout"][name] = fanout(name, servers, [h.url for h in hubs[:k]], hubs[0].realm, args)
            a, b = hubs[0], hubs[1]
            with a.backend_client() as callee:
                callee.register(PROCEDURE, lambda *xs: list(xs))
                deadline = time.monotonic() + 20
                with b.backend_client() as probe:
                    while time.monotonic() < deadline:
                        try:
                            probe.call(PROCEDURE, timeout=2)
                            break
                        except Exception:
                            time.sleep(0.2)
                for c in args.rpc_concurrency:
                    settle(servers)
                    results["rpc"][f"local C={c}"] = rpc("rpc, caller on A", servers, a.url, a.realm, c, args)
                    settle(servers)
                    results["rpc"][f"across nodes C={c}"] = rpc("rpc, caller on B", servers, b.url, a.realm, c, args)
    return results


def hold_idle(cluster: Cluster, per_node: int, timeout: float = 900) -> dict:
    """`per_node` idle sessions on every node at once, one load generator each; counted and weighed
    on the routers' side while all are held."""
    hubs = cluster.hubs
    routers = [hub.worker_pid("router") for hub in hubs]
    before = [rss([pid]) for pid in routers]
    procs, opened, results = [], {}, {}
    t0 = time.monotonic()
    deadline = t0 + timeout
    try:
        # one node's sessions at a time: all of them opening at once on two cores starves the load
        # generators, whose late pongs then make the routers drop sessions (Crossbar pings every 5 s)
        for i, hub in enumerate(hubs):
            cfg = {
                "protocol": "wamp",
                "url": hub.url,
                "realm": hub.realm,
                "topic": TOPIC,
                "workload": "connections",
                "connections": per_node,
                "parallel": 50,
                "timeout": timeout,
                "hold_timeout": timeout,  # the first node's sessions are held while the others open
            }
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.peers_loadgen", json.dumps(cfg)],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            procs.append(proc)
            sel = selectors.DefaultSelector()
            sel.register(proc.stdout, selectors.EVENT_READ)
            while i not in opened and time.monotonic() < deadline:
                if not sel.select(max(0.1, deadline - time.monotonic())):
                    continue
                line = proc.stdout.readline()
                if line.startswith("HOLDING "):
                    opened[i] = json.loads(line[len("HOLDING ") :])
                elif not line:
                    opened[i] = {"error": "load generator exited"}
            sel.close()
        all_open_s = time.monotonic() - t0
        settle(Servers(hubs, cluster.redis))
        held = [established([pid], urlport(hub.url)) for pid, hub in zip(routers, hubs)]
        after = [rss([pid]) for pid in routers]
        for proc in procs:
            if proc.poll() is None:
                proc.stdin.write("DONE\n")
                proc.stdin.flush()
        for i, proc in enumerate(procs):
            for line in proc.stdout:
                if (r := _result(line)) is not None:
                    results[i] = r
                    break
            proc.wait(60)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    nodes = []
    for i, hub in enumerate(hubs):
        grown = after[i] - before[i]
        nodes.append(
            {
                "requested": per_node,
                "opened": opened.get(i, {}).get("opened"),
                "connects_per_s": opened.get(i, {}).get("connects_per_s"),
                "held_by_router": held[i],
                "router_rss_mb": round(after[i] / 2**20, 1),
                "rss_per_session_kb": round(grown / max(held[i], 1) / 1024, 1),
                "still_open_at_measurement": results.get(i, {}).get("still_open_at_measurement"),
            }
        )
    total = sum(n["held_by_router"] for n in nodes)
    log(
        f"idle: {total:,} sessions held on {len(hubs)} nodes ({[n['held_by_router'] for n in nodes]}) "
        f"after {all_open_s:.0f} s"
    )
    return {"nodes": nodes, "held": total, "requested": per_node * len(hubs), "all_open_s": round(all_open_s, 1)}


def urlport(url: str) -> int:
    from urllib.parse import urlsplit

    return urlsplit(url).port


def run_idle(args) -> dict:
    per_node = -(-args.idle // args.idle_nodes)
    env = dict(LOADGEN_LIMITS)
    with tempfile.TemporaryDirectory(prefix="sb-bench-idle-") as tmp:
        with Cluster.started(Path(tmp), nodes=args.idle_nodes, with_components=False, env=env) as cluster:
            return {"machine": {"cpus": len(os.sched_getaffinity(0))}, "idle": hold_idle(cluster, per_node)}


def render_idle(results: dict) -> str:
    idle = results["idle"]
    lines = [
        "# Idle sessions on a cluster (bench/cluster.py --idle)",
        "",
        f"{idle['held']:,} of {idle['requested']:,} sessions held at once on {len(idle['nodes'])} nodes of one "
        f"machine ({results['machine']['cpus']} CPUs), all open after {idle['all_open_s']} s.",
        "",
        "| node | opened | held by its router | connects/s | router RSS (MB) | RSS per session (KiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for i, n in enumerate(idle["nodes"]):
        lines.append(
            f"| {i} | {n['opened']} | {n['held_by_router']} | {n['connects_per_s']} | {n['router_rss_mb']} | "
            f"{n['rss_per_session_kb']} |"
        )
    return "\n".join(lines) + "\n"


def render(results: dict) -> str:
    lines = [
        "# Cluster benchmark (bench/cluster.py)",
        "",
        f"{results['machine']['cpus']} CPUs shared by every node, Redis and the load generator.",
        "",
        "| fan-out | deliveries/s | server CPU per delivery (µs) | p50 latency (ms) | lost |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in results["fanout"].items():
        lines.append(
            f"| {name} | {r.get('deliveries_per_s')} | {r.get('cpu_us_per_delivery')} | "
            f"{(r.get('latency_ms') or {}).get('p50')} | {r.get('lost')} |"
        )
    lines += [
        "",
        "| RPC to bench.echo on node A | calls/s | p50 (ms) | p99 (ms) | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in results["rpc"].items():
        if "error" in r:
            lines.append(f"| {name} | error: {r['error']} | | | |")
            continue
        lat = r["latency_ms"]
        lines.append(f"| {name} | {r['calls_per_s']:.0f} | {lat['p50']} | {lat['p99']} | {r['errors']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, to check the benchmark works")
    parser.add_argument("--subscribers", type=int, default=300)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rpc-seconds", type=float, default=5.0)
    parser.add_argument("--rpc-concurrency", type=lambda v: [int(x) for x in v.split(",")], default=[1, 8])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--idle", type=int, default=0, help="hold this many idle sessions instead")
    parser.add_argument("--idle-nodes", type=int, default=4)
    args = parser.parse_args(argv)
    if args.idle:
        results = run_idle(args)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "cluster_idle.json").write_text(json.dumps(results, indent=1) + "\n")
        (args.out / "cluster_idle.md").write_text(render_idle(results))
        print(render_idle(results))
        return 0 if results["idle"]["held"] == results["idle"]["requested"] else 1
    if args.quick:
        args.subscribers, args.events, args.seconds, args.rpc_seconds = 30, 100, 3.0, 1.0
        args.rpc_concurrency = [1]
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cluster.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "cluster.md").write_text(render(results))
    print(render(results))
    failed = [n for part in ("fanout", "rpc") for n, r in results[part].items() if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

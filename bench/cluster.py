"""What a cluster costs, in one run: fan-out with the subscribers on 1, 2 and 3 nodes against a node of
its own, RPC to a procedure on the caller's node against one on another node, connects a second to
one node against spread over the cluster, and one node's layouts (one core, both cores, proxies).

`python -m bench.cluster [--quick] [--subscribers N] [--events E] [--rpc-seconds S] [--out DIR]`
(`make bench-cluster`). Every system runs on this machine's two cores beside the load generator, so
read the ratios, not the absolute numbers:

- fan-out: one publisher on node A, N subscribers spread round-robin over the first k nodes, through
  bench.peers_loadgen (windowed publishing, every event delivered to every subscriber). Server CPU
  is every node's processes and Redis over the loaded phase; "CPU per delivery" is that divided by
  the deliveries.
- RPC: `bench.echo` registered by one backend session on node A; C callers on node A (local) or on
  node B (forwarded through Redis, router/patches/calls.py), one call in flight each.
- connects (bench.cluster_connects): `--connects K` idle sessions (3,000) opened as fast as 3 load
  generator processes started together can, all to a node of its own, all to node A of the
  cluster, or one process per node; the time from the first connect to the last session opened,
  connects/s, the sessions that failed, and the nodes' and Redis's CPU per connect.
- layouts (bench.cluster_layouts): fan-out and RPC as above on one node of its own, its processes
  pinned to one CPU (`one core`), on both CPUs, and on both CPUs behind 1 and 2 proxy workers, the
  load generator on the other CPU in each; each row's ratios against `one core` and against
  `both cores, no proxies`.

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
import sys
import tempfile
import time
from pathlib import Path

from switchboard.router.testing.cluster import Cluster
from switchboard.router.testing.hub import Hub

from bench import cluster_layouts
from bench.cluster_connects import connects, holding, release, spawn
from bench.cluster_connects import table as connects_table
from bench.cluster_runs import Servers, bench_config, echo_callee, fanout, rpc
from bench.peers import log, settle
from bench.peers_servers import LOADGEN_LIMITS
from bench.procstat import established, rss

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"


def run(args) -> dict:
    results: dict = {
        "machine": {"cpus": len(os.sched_getaffinity(0))},
        "fanout": {},
        "rpc": {},
        "connects": {},
    }
    config = bench_config()
    with tempfile.TemporaryDirectory(prefix="sb-bench-cluster-") as tmp:
        tmp = Path(tmp)
        env = dict(LOADGEN_LIMITS)  # the load generator's sessions all come from 127.0.0.1
        with Hub.started(tmp / "alone", config=config, with_components=False, env=env) as alone:
            servers = Servers([alone])
            results["fanout"]["one node, no cluster"] = fanout(
                "one node, no cluster", servers, [alone.url], alone.realm, args
            )
            settle(servers)
            results["connects"]["one node, no cluster"] = connects(
                "connects, one node", servers, [alone.url], alone.realm, args.connects
            )
        with Cluster.started(tmp / "cluster", nodes=3, config=config, with_components=False, env=env) as cluster:
            hubs, servers = cluster.hubs, Servers(cluster.hubs, cluster.redis)
            for k in (1, 2, 3):
                name = f"cluster, subscribers on {k} node{'s' if k > 1 else ''}"
                settle(servers)
                results["fanout"][name] = fanout(name, servers, [h.url for h in hubs[:k]], hubs[0].realm, args)
            a, b = hubs[0], hubs[1]
            with echo_callee(a, probe_hub=b):
                for c in args.rpc_concurrency:
                    settle(servers)
                    results["rpc"][f"local C={c}"] = rpc("rpc, caller on A", servers, a.url, a.realm, c, args)
                    settle(servers)
                    results["rpc"][f"across nodes C={c}"] = rpc("rpc, caller on B", servers, b.url, a.realm, c, args)
            for name, targets in (("cluster, all on node A", hubs[:1]), ("cluster, spread over 3 nodes", hubs)):
                settle(servers)
                results["connects"][name] = connects(
                    f"connects, {name}", servers, [h.url for h in targets], a.realm, args.connects
                )
        results["layouts"] = cluster_layouts.measure(tmp / "layouts", config, env, args)
    return results


def hold_idle(cluster: Cluster, per_node: int, timeout: float = 900) -> dict:
    """`per_node` idle sessions on every node at once, one load generator each; counted and weighed
    on the routers' side while all are held."""
    hubs = cluster.hubs
    routers = [hub.worker_pid("router") for hub in hubs]
    before = [rss([pid]) for pid in routers]
    procs, opened = [], {}
    t0 = time.monotonic()
    deadline = t0 + timeout
    try:
        # one node's sessions at a time: all of them opening at once on two cores starves the load
        # generators, whose late pongs then make the routers drop sessions (Crossbar pings every 5 s);
        # the first node's sessions are held while the others open
        for i, hub in enumerate(hubs):
            procs.append(spawn(hub.url, hub.realm, per_node, 50, timeout))
            opened[i] = holding(procs[-1:], deadline).get(0, {})
        all_open_s = time.monotonic() - t0
        settle(Servers(hubs, cluster.redis))
        held = [established([pid], urlport(hub.url)) for pid, hub in zip(routers, hubs)]
        after = [rss([pid]) for pid in routers]
    finally:
        results = release(procs)
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
    lines += ["", connects_table(results["connects"]), cluster_layouts.table(results["layouts"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, to check the benchmark works")
    parser.add_argument("--subscribers", type=int, default=300)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rpc-seconds", type=float, default=5.0)
    parser.add_argument("--rpc-concurrency", type=lambda v: [int(x) for x in v.split(",")], default=[1, 8])
    parser.add_argument("--connects", type=int, default=3000, help="sessions each connects row opens")
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
        args.rpc_concurrency, args.connects = [1], 500
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cluster.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "cluster.md").write_text(render(results))
    print(render(results))
    return 1 if failures(results) else 0


def failures(results: dict) -> list[str]:
    """The rows that failed: an error, or a connects row that did not open every session."""
    rows = [(n, r) for part in ("fanout", "rpc") for n, r in results[part].items()]
    for name, row in results["layouts"]["rows"].items():
        rows += [(f"{name} fan-out", row["fanout"]), *((f"{name} RPC {c}", r) for c, r in row["rpc"].items())]
    failed = [n for n, r in rows if "error" in r]
    return failed + [n for n, r in results["connects"].items() if r["failed"] or r["errors"]]


if __name__ == "__main__":
    sys.exit(main())

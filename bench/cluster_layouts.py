"""bench.cluster's layouts on one node: the same fan-out and RPC on one core, on both cores, and on
both cores behind 1 and 2 proxy workers (SWITCHBOARD_PROXY_WORKERS), in the same run.

The load generator runs on one CPU (the load CPU) in every layout, so only the node's placement
changes: `one core` pins the node and every worker it starts to the other CPU (this process's
affinity while the node starts, inherited; the RPC callee, a session in this process, too), the
others let the node use both CPUs. Each node runs the app's components, as `make run` starts it.
Pure except `measure`."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import psutil
from switchboard.router.testing.hub import Hub

from bench.cluster_runs import Servers, echo_callee, fanout, rpc
from bench.django_publish import plan_cpus
from bench.peers import settle


@dataclass(frozen=True)
class Layout:
    name: str
    one_core: bool
    proxies: int


LAYOUTS = (
    Layout("one core", True, 0),
    Layout("both cores, no proxies", False, 0),
    Layout("both cores, 1 proxy", False, 1),
    Layout("both cores, 2 proxies", False, 2),
)
#: the rows every layout is compared with
BASELINES = ("one core", "both cores, no proxies")


@contextlib.contextmanager
def on_cpus(cpus: set[int] | None):
    """This process (and what it starts meanwhile) on `cpus`; None leaves it as it is."""
    before = os.sched_getaffinity(0)
    if cpus is not None:
        os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def measure(workdir: Path, config: dict, env: dict, args) -> dict:
    """Every layout's fan-out (one node, args.subscribers) and RPC (each of args.rpc_concurrency);
    {"cpus": plan, "rows": {layout: {"fanout": ..., "rpc": {"C=c": ...}}}}."""
    plan = plan_cpus(True)
    if not plan["pinned"]:
        return {"cpus": plan, "rows": {}, "skipped": plan["description"]}
    plan["description"] = (
        f"load generator on CPU {plan['load_cpu']} in every layout; `one core`: the node, its workers and "
        f"the RPC callee on CPU {plan['server_cpu']}; the others: the node on every CPU"
    )
    rows = {}
    for layout in LAYOUTS:
        cpus = {plan["server_cpu"]} if layout.one_core else None
        with (
            on_cpus(cpus),
            Hub.started(
                workdir / layout.name.replace(" ", "-").replace(",", ""),
                config=config,
                with_components=True,  # as make run starts it
                proxy_workers=layout.proxies,
                env=env,
            ) as hub,
        ):
            servers, load = Servers([hub]), plan["load_cpu"]
            row = {"server_cpus": tree_cpus(hub.node.process.pid)}
            row["fanout"] = fanout(f"layout {layout.name}", servers, [hub.url], hub.realm, args, cpu=load)
            row["rpc"] = {}
            with echo_callee(hub):
                for c in args.rpc_concurrency:
                    settle(servers)
                    row["rpc"][f"C={c}"] = rpc(f"rpc, {layout.name}", servers, hub.url, hub.realm, c, args, cpu=load)
            rows[layout.name] = row
    return {"cpus": plan, "rows": rows}


def tree_cpus(pid: int) -> list[int]:
    """Every CPU the process `pid` or any of its descendants may run on."""
    root = psutil.Process(pid)
    cpus: set[int] = set()
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            cpus.update(proc.cpu_affinity())
    return sorted(cpus)


def ratio(value, base) -> float | None:
    return round(value / base, 2) if value and base else None


def table(layouts: dict) -> str:
    """The layouts' rows with each one's ratio against both baselines (markdown)."""
    rows = layouts.get("rows") or {}
    if not rows:
        return f"Layouts on one node: not measured ({layouts.get('skipped')}).\n"
    cs = list(next(iter(rows.values()))["rpc"])
    head = "| layout on one node | deliveries/s | server CPU per delivery (µs) | " + " | ".join(
        f"RPC {c}: calls/s, p50 / p99 ms" for c in cs
    )
    head += " | " + " | ".join(f"against {b}: deliveries/s, {cs[-1]} calls/s" for b in BASELINES) + " |"
    lines = [
        f"CPUs: {layouts['cpus']['description']}.",
        "",
        head,
        "|---|" + "---:|" * (2 + len(cs) + len(BASELINES)),
    ]
    for name, row in rows.items():
        f = row["fanout"]
        cells = [name, str(f.get("deliveries_per_s")), str(f.get("cpu_us_per_delivery"))]
        for c in cs:
            r = row["rpc"][c]
            cells.append(
                f"error: {r['error']}"
                if "error" in r
                else f"{r['calls_per_s']:.0f}, {r['latency_ms']['p50']} / {r['latency_ms']['p99']}"
            )
        for b in BASELINES:
            base = rows.get(b)
            if base is None:
                cells.append("")
                continue
            d = ratio(f.get("deliveries_per_s"), base["fanout"].get("deliveries_per_s"))
            calls = ratio(row["rpc"][cs[-1]].get("calls_per_s"), base["rpc"][cs[-1]].get("calls_per_s"))
            cells.append(f"{d} / {calls}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

"""Connects a second: K sessions opened as fast as the load generator can, by several load generator
processes started together, each holding what it opened until all have (bench.peers_loadgen's
connections workload). bench.cluster runs it against a node of its own, all on node A of a cluster
and spread over its nodes, always with the same processes, so only where the sessions go changes;
its idle run uses the same process handling one node after another."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
from pathlib import Path

from bench.cluster_runs import TOPIC
from bench.peers import _result, log
from bench.procstat import tree_cpu

ROOT = Path(__file__).resolve().parent.parent
#: load generator processes per connects row, and handshakes each keeps in flight
PROCESSES = 3
PARALLEL = 50


def spawn(url: str, realm: str, count: int, parallel: int, timeout: float) -> subprocess.Popen:
    """A load generator opening `count` idle sessions to `url` and holding them until told DONE."""
    cfg = {
        "protocol": "wamp",
        "url": url,
        "realm": realm,
        "topic": TOPIC,
        "workload": "connections",
        "connections": count,
        "parallel": parallel,
        "timeout": timeout,
        "hold_timeout": timeout,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bench.peers_loadgen", json.dumps(cfg)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def holding(procs: list[subprocess.Popen], deadline: float) -> dict[int, dict]:
    """What each process reported once all its sessions were opened (or failed), by index."""
    opened: dict[int, dict] = {}
    sel = selectors.DefaultSelector()
    for i, proc in enumerate(procs):
        sel.register(proc.stdout, selectors.EVENT_READ, i)
    while len(opened) < len(procs) and time.monotonic() < deadline:
        for key, _ in sel.select(max(0.1, deadline - time.monotonic())):
            line = key.fileobj.readline()
            if line.startswith("HOLDING ") or not line:
                opened[key.data] = json.loads(line[len("HOLDING ") :]) if line else {"error": "load generator exited"}
                sel.unregister(key.fileobj)
    sel.close()
    return opened


def release(procs: list[subprocess.Popen]) -> dict[int, dict]:
    """Tell every holding process DONE; their final results, by index."""
    for proc in procs:
        if proc.poll() is None:
            proc.stdin.write("DONE\n")
            proc.stdin.flush()
    results = {}
    try:
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
    return results


def summary(opened: list[dict], requested: int) -> dict:
    """Every process's opening phase as one: from the first connect to the last session opened."""
    ok = [o for o in opened if "error" not in o]
    n = sum(o["opened"] for o in ok)
    start = min((o["started_unix"] for o in ok), default=None)
    end = max((o["started_unix"] + o["seconds"] for o in ok), default=None)
    seconds = round(end - start, 3) if ok else None
    return {
        "requested": requested,
        "opened": n,
        "failed": requested - n,
        "seconds": seconds,
        "connects_per_s": round(n / seconds, 1) if seconds else None,
        "errors": sorted({e for o in ok for e in o.get("errors", [])} | {o["error"] for o in opened if "error" in o})[
            :3
        ],
    }


def connects(name: str, servers, urls: list[str], realm: str, count: int, timeout: float = 300) -> dict:
    """`count` sessions over PROCESSES load generators started together, process i on urls[i % len]."""
    counts = [count // PROCESSES + (i < count % PROCESSES) for i in range(PROCESSES)]
    cpu0 = tree_cpu(servers.cpu_pids())
    procs = [spawn(urls[i % len(urls)], realm, n, PARALLEL, timeout) for i, n in enumerate(counts)]
    try:
        opened = holding(procs, time.monotonic() + timeout)
        server_cpu = tree_cpu(servers.cpu_pids()) - cpu0
    finally:
        release(procs)
    r = summary([opened.get(i, {"error": "no report"}) for i in range(PROCESSES)], count)
    r["server_cpu_ms_per_connect"] = round(server_cpu / r["opened"] * 1e3, 2) if r["opened"] else None
    r["nodes"] = len(set(urls))
    log(
        f"{name:<38} {r['opened']:,}/{r['requested']:,} opened in {r['seconds']} s  {r['connects_per_s']} "
        f"connects/s  {r['server_cpu_ms_per_connect']} ms server CPU each  failed {r['failed']}"
    )
    return r


def table(rows: dict) -> str:
    lines = [
        f"| connects ({PROCESSES} load generator processes, {PARALLEL} handshakes in flight each) | sessions opened | "
        "failed | time to open all (s) | connects/s | server CPU per connect (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['opened']} of {r['requested']} | {r['failed']} | {r['seconds']} | {r['connects_per_s']} | "
            f"{r['server_cpu_ms_per_connect']} |"
        )
    return "\n".join(lines) + "\n"

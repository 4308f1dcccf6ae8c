"""bench.cluster end to end, small: a node of its own and a 3-node cluster, fan-out over 1-3 nodes,
RPC local and across nodes, connects to one node and spread, and one node's layouts (one core, both
cores, proxies), through the real load generator. Keeps the benchmark runnable; its numbers mean
nothing at this size."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_cluster_run_delivers_everything_and_answers_every_call(tmp_path):
    out = tmp_path / "results"
    run = subprocess.run(
        [sys.executable, "-m", "bench.cluster", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    results = json.loads((out / "cluster.json").read_text())
    assert len(results["fanout"]) == 4 and len(results["rpc"]) == 2
    for name, r in results["fanout"].items():
        assert r["lost"] == 0 and not r["stalled"], name
        assert r["cpu_us_per_delivery"] > 0, name
    for name, r in results["rpc"].items():
        assert r["calls"] > 0 and r["errors"] == 0, name
    connects = {"one node, no cluster", "cluster, all on node A", "cluster, spread over 3 nodes"}
    assert set(results["connects"]) == connects
    for name, r in results["connects"].items():
        assert r["opened"] == r["requested"] == 500 and r["failed"] == 0, (name, r)
        assert r["connects_per_s"] > 0 and r["seconds"] > 0, name
    assert results["connects"]["cluster, spread over 3 nodes"]["nodes"] == 3
    layouts = results["layouts"]["rows"]
    assert list(layouts) == ["one core", "both cores, no proxies", "both cores, 1 proxy", "both cores, 2 proxies"]
    for name, row in layouts.items():
        assert row["fanout"]["lost"] == 0 and not row["fanout"]["stalled"], name
        assert row["fanout"]["cpu_us_per_delivery"] > 0, name
        assert row["rpc"]["C=1"]["calls"] > 0 and row["rpc"]["C=1"]["errors"] == 0, name
    cpus = results["layouts"]["cpus"]
    assert layouts["one core"]["server_cpus"] == [cpus["server_cpu"]]  # the node and every worker
    assert len(layouts["both cores, 2 proxies"]["server_cpus"]) == 2
    for row in layouts.values():
        assert row["fanout"]["affinity"] == [cpus["load_cpu"]]  # the load generator on its own CPU
    md = (out / "cluster.md").read_text()
    for row in ("| cluster, subscribers on 3 nodes |", "| cluster, spread over 3 nodes |", "| both cores, 2 proxies |"):
        assert row in md, row

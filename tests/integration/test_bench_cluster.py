"""bench.cluster end to end, small: a node of its own and a 3-node cluster, fan-out over 1-3 nodes and
RPC local and across nodes, through the real load generator. Keeps the benchmark runnable; its
numbers mean nothing at this size."""

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
    assert "| cluster, subscribers on 3 nodes |" in (out / "cluster.md").read_text()

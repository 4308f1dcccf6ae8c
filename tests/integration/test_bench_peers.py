"""bench.peers end to end, small: a real Switchboard hub (msgpack, and JSON before tuning) and the
Autobahn ceiling, every workload, through the real load generator; results, ratios and charts
written. Keeps the benchmark runnable; its numbers mean nothing at this size."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: needs the bench extras (the peers, their load generator): `make bench-smoke`, not `make test`
pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = ("switchboard", "sb_before", "ceiling")


def test_a_small_run_measures_every_workload_without_losing_anything(tmp_path):
    out = tmp_path / "results"
    cmd = [
        sys.executable,
        "-m",
        "bench.peers",
        "--quick",
        "--systems",
        ",".join(SYSTEMS),
        "--fanout-subscribers",
        "20",
        "--fanout-events",
        "60",
        "--fanout-seconds",
        "1",
        "--fanout-unloaded-events",
        "5",
        "--fanout-paced-seconds",
        "0.5",
        "--rpc-concurrency",
        "1,4",
        "--rpc-seconds",
        "0.5",
        "--connections",
        "60",
        "--out-dir",
        str(out),
    ]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=400, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((out / "peers.json").read_text())
    for name in SYSTEMS:
        system = data["systems"][name]
        fanout = system["fanout"]["20"]
        assert fanout["delivered"] == fanout["expected"] > 0 and fanout["lost"] == 0, (name, fanout)
        assert fanout["unloaded"]["lost"] == 0 and fanout["paced"]["lost"] == 0, (name, fanout)
        assert fanout["paced"]["events_sent"] > 0 and fanout["unparsed"] == 0, (name, fanout)
        for calls in system["rpc"].values():
            assert calls["calls"] > 0 and calls["errors"] == 0, (name, calls)
        if name == "sb_before":  # changes nothing an idle connection costs: not measured again
            assert system["connections"] is None
        else:
            conn = system["connections"]
            assert conn["opened"] == conn["held"] == conn["still_open_at_measurement"] == 60, (name, conn)
            assert conn["failed"] == 0, (name, conn)
    assert "fanout N=20: Switchboard / ceiling (Autobahn)" in data["ratios"]
    assert (out / "peers.md").read_text().startswith("# Switchboard and its peers, side by side (QUICK RUN")
    assert (out / "peers.png").stat().st_size > 0 and (out / "peers_connections.png").stat().st_size > 0

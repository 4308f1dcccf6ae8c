"""bench.cluster_outage end to end, small: Redis killed and restarted under a steady stream on a
2-node cluster. Keeps the benchmark runnable and checks what must hold whatever the machine's
speed: local delivery never stops, nothing acknowledged on the origin node is lost to its own
subscribers, and after Redis is back everything works across the nodes again."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[2]
LOCAL, REMOTE = ("node A, exact", "node A, prefix"), ("node B, exact", "node B, prefix")


def test_a_small_outage_run_keeps_local_delivery_and_recovers_across_nodes(tmp_path):
    out = tmp_path / "results"
    run = subprocess.run(
        [sys.executable, "-m", "bench.cluster_outage", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    results = json.loads((out / "cluster_outage.json").read_text())
    assert [r["kind"] for r in results["scenarios"].values()] == ["kill", "restart"]
    for name, r in results["scenarios"].items():
        subs = r["subscribers"]
        assert set(subs) == set(LOCAL + REMOTE), name
        assert r["publishes"]["refused"] == 0, f"{name}: every publish acknowledged"
        for sub in LOCAL:
            t = subs[sub]
            assert t["published_during_outage"] > 0, name
            assert t["outage_events_delivered_during_outage"] > 0, f"{name}, {sub}: delivered while Redis was away"
            assert t["lost"] == t["duplicated"] == t["out_of_order"] == 0, f"{name}, {sub}"
        for sub in REMOTE:
            t = subs[sub]
            assert t["first_fresh_event_after_redis_back_ms"] is not None, f"{name}, {sub}: delivery resumed"
            assert t["lost"] == t["duplicated"] == t["out_of_order"] == 0, f"{name}, {sub}: the outbox's events"
        for probe in ("tickets", "bridge", "rpc"):
            assert r[probe]["accepted_again_after_ms"] is not None, f"{name}: {probe} works again"
        assert r["tickets"]["accepted_during_outage"] == 0, f"{name}: no ticket unchecked"
        assert r["presence"]["roster_right_after_ms"] is not None, f"{name}: the roster is right again"
        assert r["history"]["published_after_kept"] == r["history"]["published_after"], name
        assert r["tracebacks_in_node_logs"] == [0, 0], name
    assert "| kill 2 s | node B, exact |" in (out / "cluster_outage.md").read_text()

"""bench.soak end to end, small: two real hubs, a few subscribers, a few seconds per phase, every kind of
bad client. Keeps the benchmark runnable and its report complete; its numbers mean nothing at this
size, so nothing here checks a time or a goal, only that each field was measured."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: needs the bench extras (the peers, their load generator): `make bench-smoke`, not `make test`
pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_soak_reports_every_field(tmp_path):
    out = tmp_path / "results"
    cmd = [
        sys.executable,
        "-m",
        "bench.soak",
        "--quick",
        "--subscribers",
        "10",
        "--warmup-seconds",
        "1",
        "--baseline-seconds",
        "2",
        "--window-seconds",
        "8",
        "--after-seconds",
        "1",
        "--recovery-timeout",
        "5",
        "--slow-consumers",
        "2",
        "--malformed-rate",
        "5",
        "--malformed-timeout",
        "2",
        "--churn-rate",
        "2",
        "--out-dir",
        str(out),
    ]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=400, stdin=subprocess.DEVNULL)
    assert result.returncode in (0, 1), result.stderr[-3000:]
    data = json.loads((out / "soak.json").read_text())
    assert data["errors"] == [], data["errors"]
    for name in ("clean", "bad"):
        phase = data["phases"][name]
        fanout = phase["loadgen"]["fanout"]
        assert phase["loadgen"]["subscribers"] == 10
        assert fanout["events_sent"] > 0 and fanout["unparsed"] == 0
        for segment in ("baseline", "window", "after"):
            assert fanout["segments"][segment]["p99"] is not None, (name, segment)
        assert fanout["lost"] >= 0 and phase["loadgen"]["bulk"]["lost"] >= 0
        rss = phase["rss"]
        assert rss["baseline_mib"] > 0 and rss["peak_window_mib"] > 0 and len(rss["samples"]) >= 5
        assert {s[1] for s in rss["samples"]} >= {"baseline", "window", "after"}
    assert data["phases"]["clean"]["bad"] is None
    bad = data["phases"]["bad"]["bad"]
    assert len(bad["slow_consumers"]) == 2
    assert bad["malformed_total"] > 0 and bad["churn_total"] > 0
    verdict = data["verdict"]
    for key in (
        "p99_clean_ms",
        "p99_bad_ms",
        "p99_ratio",
        "rss_growth_mib",
        "slow_dropped",
        "malformed_refused",
        "lost",
    ):
        assert key in verdict, key
    assert len(verdict["goals"]) == 6 and all(isinstance(g["met"], bool) for g in verdict["goals"])
    markdown = (out / "soak.md").read_text()
    assert markdown.startswith("# Soak: normal subscribers beside slow, malformed and churning clients (QUICK RUN")
    assert "router RSS" in markdown and "Goals:" in markdown

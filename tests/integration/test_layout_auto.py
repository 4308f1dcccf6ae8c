"""`switchboard run` with SWITCHBOARD_PROXY_WORKERS=auto (the default): it measures each candidate
layout on this machine once (router/node/layout_measure.py), starts with the one that measured best,
says which and why, keeps the answer in the hub directory and takes it from there the next time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

from switchboard.router import settings as S
from switchboard.router.node import layout_choice

from tests.hub_process import RunningHub

AUTO = {S.ENV_PROXY_WORKERS: "auto", S.ENV_LAYOUT_SECONDS: "0.5"}


def started_lines(hub: RunningHub) -> list[str]:
    return hub.out_path.read_text(errors="replace").splitlines()


def proxies_running(hub: RunningHub) -> int:
    return sum(1 for p in hub.controller().children() if "switchboard-worker proxy" in " ".join(p.cmdline()))


def test_auto_measures_once_starts_with_the_best_layout_says_so_and_keeps_it(tmp_path):
    hub_dir = tmp_path / "hub"
    hub = RunningHub(hub_dir, env=AUTO)
    try:
        lines = started_lines(hub)
        measuring = [line for line in lines if "measuring which layout serves best" in line]
        counts = " and ".join(map(str, layout_choice.candidates(len(os.sched_getaffinity(0)))))
        assert len(measuring) == 1 and f": {counts} proxy workers" in measuring[0], lines
        saved = json.loads((hub_dir / "layout.json").read_text())
        assert saved["fingerprint"]["cores"] == len(os.sched_getaffinity(0))
        assert sorted(map(int, saved["scores"])) == sorted(layout_choice.candidates(saved["fingerprint"]["cores"]))
        assert all(len(phases) == 2 and all(p["units"] > 0 for p in phases) for phases in saved["phases"].values())
        chosen = saved["proxies"]
        (layout,) = [line for line in lines if "layout: " in line]
        assert layout_choice.describe(chosen) in layout and "SWITCHBOARD_PROXY_WORKERS=auto: measured" in layout
        assert f"kept in {hub_dir / 'layout.json'}" in layout
        assert proxies_running(hub) == chosen
        with urllib.request.urlopen(f"http://127.0.0.1:{hub.port}/", timeout=10) as page:
            assert page.status == 200
        with hub.client() as c:
            assert c.call("demo.add2", 2, 3) == 5
        assert hub.stop() == 0
        assert "Traceback" not in hub.out_path.read_text() + hub.err_path.read_text()

        # another hub directory with that answer in it: taken, nothing measured
        other = tmp_path / "other"
        other.mkdir()
        (other / "layout.json").write_text((hub_dir / "layout.json").read_text())
        again = RunningHub(other, env=AUTO)
        try:
            lines = started_lines(again)
            assert not [line for line in lines if "measuring which layout" in line], lines
            (layout,) = [line for line in lines if "layout: " in line]
            assert layout_choice.describe(chosen) in layout and saved["measured_at"] in layout
            shown = subprocess.run(
                [sys.executable, "-m", "switchboard.router", "layout", "--dir", str(other)],
                env={**os.environ, **AUTO},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert shown.returncode == 0, shown.stderr
            assert (
                shown.stdout.startswith(f"layout: {layout_choice.describe(chosen)} (")
                and saved["measured_at"] in shown.stdout
            )
        finally:
            again.close()
    finally:
        hub.close()


def test_an_explicit_count_starts_without_measuring_and_says_so(tmp_path):
    hub = RunningHub(tmp_path / "hub", env={S.ENV_PROXY_WORKERS: "0"})
    try:
        lines = started_lines(hub)
        assert not [line for line in lines if "measuring which layout" in line]
        assert [line for line in lines if "layout: one router worker, no proxies (SWITCHBOARD_PROXY_WORKERS=0;" in line]
        assert not (tmp_path / "hub" / "layout.json").exists()
    finally:
        hub.close()

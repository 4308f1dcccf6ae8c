"""Soak: does the hub keep serving its normal subscribers while slow, malformed and churning clients
hit it, and does its memory come back once they leave?

    python -m bench.soak            # full run (make bench-soak, about 8 minutes): bench/results/soak.{md,json,png}
    python -m bench.soak --quick    # about a minute, written to test-results/bench/ instead

Two phases of equal length, each on a fresh hub (switchboard.router.testing.Hub, the `make run` config plus
publish rights under `bench.`, every limit at its default): *clean*, fan-out to N normal subscribers
at a steady rate (bench.soak_loadgen), and *bad*, the same with the bad clients of bench.soak_bad
beside it. The router worker's RSS is sampled every second (bench.soak_rss); the hub's log says which
defence dropped or refused whom (bench.soak_hublog). See docs/benchmarks.md ("Soak").
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from switchboard.router import settings as S
from switchboard.router.testing.hub import Hub

from bench import machine, soak_hublog, soak_report, soak_verdict
from bench.django_publish import plan_cpus
from bench.peers_servers import VARIANTS, sb_config
from bench.soak_params import SoakParams, parse
from bench.soak_rss import Sampler, router_worker_pid

ROOT = Path(__file__).resolve().parent.parent
QUICK_OUT = ROOT / "test-results" / "bench"
TOPIC, BULK_TOPIC, NOISE_TOPIC = "bench.soak.fanout", "bench.soak.bulk", "bench.soak.noise"
PHASES = ("clean", "bad")


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Child:
    """A client process that answers in `WORD <json>` lines on stdout and takes commands on stdin."""

    def __init__(self, module: str, cfg: dict, stderr_path: Path):
        self.stderr_path = stderr_path
        with open(stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module, json.dumps(cfg)],
                cwd=ROOT,
                text=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
            )

    def expect(self, word: str, timeout: float) -> dict:
        """The json of the next `word` line, within `timeout` seconds."""
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not sel.select(max(0.1, deadline - time.monotonic())):
                continue
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith(word + " "):
                return json.loads(line[len(word) + 1 :])
        tail = "\n".join(self.stderr_path.read_text(errors="replace").strip().splitlines()[-6:])
        raise RuntimeError(f"{word} not received (exit {self.proc.poll()}): {tail}")

    def say(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def margin(params: SoakParams, baseline: float) -> float:
    return max(params.rss_margin_mib, params.rss_margin_fraction * baseline)


def run_phase(phase: str, params: SoakParams, cpus: dict, workdir: Path) -> dict:
    """One phase on a fresh hub: set-up, warm-up, baseline, the window (with the bad clients in the bad
    phase), then the wait until the router's RSS is back near the baseline."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = sb_config(VARIANTS["switchboard"])
    hub, children = Hub(workdir / "hub", config=config), []
    t0 = time.monotonic()
    hub.start()
    out: dict = {"phase": phase, "hub_start_s": round(time.monotonic() - t0, 1)}
    try:
        sampler = Sampler(router_worker_pid(hub.node, S.router_worker(config)["id"]))
        sampler.start()
        base = {"url": hub.url, "realm": hub.realm, "topic": TOPIC, "bulk_topic": BULK_TOPIC, "cpu": cpus["load_cpu"]}
        loadgen = Child(
            "bench.soak_loadgen",
            {
                **base,
                "subscribers": params.subscribers,
                "rate": params.rate,
                "payload_bytes": params.payload_bytes,
                "bulk_rate": params.bulk_rate,
                "bulk_bytes": params.bulk_bytes,
                "stall_timeout": params.stall_timeout,
            },
            workdir / "loadgen.log",
        )
        children.append(loadgen)
        out["ready"] = loadgen.expect("READY", 240)
        log(f"{phase}: {out['ready']['subscribers']} subscribers in {out['ready']['setup_s']} s")

        def segment(name: str, seconds: float | None = None) -> None:
            sampler.mark(name)
            loadgen.say(f"MARK {name}")
            if seconds:
                time.sleep(seconds)  # the schedule of a timed benchmark, not synchronisation

        segment("warmup", params.warmup_seconds)
        segment("baseline", params.baseline_seconds)
        baseline = sampler.median_rss("baseline")
        log_before = hub.log_path.stat().st_size
        if phase == "bad":
            segment("window")
            bad = Child(
                "bench.soak_bad",
                {
                    **base,
                    "host": "127.0.0.1",
                    "port": hub.settings.port,
                    "noise_topic": NOISE_TOPIC,
                    "duration": params.window_seconds,
                    **{
                        k: getattr(params, k)
                        for k in (
                            "slow_consumers",
                            "slow_interval",
                            "malformed_rate",
                            "malformed_timeout",
                            "churn_rate",
                        )
                    },
                },
                workdir / "bad.log",
            )
            children.append(bad)
            out["bad"] = bad.expect("RESULT", params.window_seconds + 150)
        else:
            segment("window", params.window_seconds)
            out["bad"] = None
        segment("after")
        log_after = hub.log_path.stat().st_size
        out["hub_log_window_kib"] = round((log_after - log_before) / 1024, 1)
        with open(hub.log_path, "rb") as f:
            f.seek(log_before)
            out["hub_log_window_kinds"] = soak_hublog.kinds(f.read(log_after - log_before).decode("utf-8", "replace"))
        target = round(baseline + margin(params, baseline), 1) if baseline else None
        back = sampler.wait_back(target, params.after_seconds, params.recovery_timeout) if target else None
        loadgen.say("STOP")
        out["loadgen"] = loadgen.expect("RESULT", 120)
        sampler.stop()
        out["rss"] = {
            "baseline_mib": baseline,
            "target_mib": target,
            "back_after_s": back,
            "peak_window_mib": sampler.peak_rss("window"),
            "peak_after_mib": sampler.peak_rss("after"),
            "end_mib": sampler.samples[-1][2] if sampler.samples else None,
            "samples": sampler.samples,
        }
        out["router_cpu_share"] = {s: sampler.cpu_share(s) for s in ("baseline", "window", "after")}
    finally:
        for child in children:
            child.close()
        hub.stop()
    out["hub_log"] = soak_hublog.read(hub.log_path.read_text(encoding="utf-8", errors="replace"))
    return out


def summary_line(r: dict) -> str:
    fan = r["loadgen"]["fanout"]
    window = fan["segments"].get("window") or {}
    rss = r["rss"]
    return (
        f"{r['phase']}: window p50 {window.get('p50')} p99 {window.get('p99')} ms, lost {fan['lost']}, "
        f"RSS {rss['baseline_mib']} -> peak {rss['peak_window_mib']} -> end {rss['end_mib']} MiB"
    )


def main(argv: list[str] | None = None) -> int:
    params = parse(argv)
    info = machine.info()  # before pinning: it counts the usable CPUs
    cpus = plan_cpus(params.pin)
    if cpus["pinned"]:
        os.sched_setaffinity(0, {cpus["server_cpu"]})  # the hub inherits it
        cpus["description"] = (
            f"the Crossbar node and its workers pinned to CPU {cpus['server_cpu']}; the normal "
            f"clients and the bad clients (one process each) pinned to CPU {cpus['load_cpu']} "
            "(os.sched_setaffinity); other processes on the machine were not moved"
        )
    started = datetime.now(timezone.utc)
    log(
        f"{params.subscribers} subscribers at {params.rate:g} events/s, {params.window_seconds:g} s windows; "
        f"{cpus['description']}"
    )
    phases, errors = {}, []
    with tempfile.TemporaryDirectory(prefix="switchboard-soak-") as tmp:
        for phase in PHASES:
            try:
                phases[phase] = run_phase(phase, params, cpus, Path(tmp) / phase)
                log(summary_line(phases[phase]))
            except Exception as e:  # recorded; the report says which phase failed
                log(f"{phase} FAILED: {e}")
                errors.append(f"{phase}: {e}")
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    data = {
        "benchmark": "soak",
        "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": round((datetime.now(timezone.utc) - started).total_seconds(), 1),
        "command": " ".join(["python -m bench.soak", *(argv if argv is not None else sys.argv[1:])]),
        "params": params.as_dict(),
        "machine": info,
        "cpu_pinning": cpus,
        "phases": phases,
        "errors": errors,
        "topics": {"fanout": TOPIC, "bulk": BULK_TOPIC, "noise": NOISE_TOPIC},
    }
    data["verdict"] = soak_verdict.verdict(data) if not errors else None
    out_dir = QUICK_OUT if params.quick and params.out_dir == SoakParams().out_dir else ROOT / params.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    data["charts"] = soak_report.chart(data, out_dir, log)
    (out_dir / f"{params.name}.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    markdown = soak_report.render(data)
    (out_dir / f"{params.name}.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    log(f"results: {out_dir}/{params.name}.md, .json" + (f", {', '.join(data['charts'])}" if data["charts"] else ""))
    if errors:
        return 1
    return 0 if data["verdict"]["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

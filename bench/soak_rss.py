"""The router worker's memory and CPU, sampled every second in a thread while a soak phase runs, each
sample tagged with the phase's current segment; and a wait, by those samples, until its memory is back
near a baseline. Memory is what a hostile client can grow; the samples show when and how far."""

from __future__ import annotations

import contextlib
import statistics
import threading
import time

import psutil


def router_worker_pid(node, worker_id: str) -> int:
    """The router worker's pid: the node's worker titled with its id
    (switchboard.router.node.process.worker_pids), else the `crossbar.worker.main` child whose
    command line names the worker id (an untitled worker)."""
    pid = node.worker_pids().get(worker_id)
    if pid:
        return pid
    for child in psutil.Process(node.process.pid).children():
        with contextlib.suppress(psutil.Error):
            words = " ".join(child.cmdline()).replace("=", " ").split()
            if "crossbar.worker.main" in words and worker_id in words and "--worker" in words:
                return child.pid
    raise LookupError(f"no router worker {worker_id!r} under the node process")


class Sampler(threading.Thread):
    """[seconds since start, segment, RSS MiB, CPU seconds] of one process, every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 1.0):
        super().__init__(daemon=True, name="soak-rss")
        self.proc, self.interval = psutil.Process(pid), interval
        self.samples: list[list] = []
        self.segment = "setup"
        self.t0 = time.monotonic()
        self._halt, self._new = threading.Event(), threading.Condition()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                rss, cpu = self.proc.memory_info().rss, self.proc.cpu_times()
            except psutil.Error:
                return
            with self._new:
                self.samples.append(
                    [
                        round(time.monotonic() - self.t0, 2),
                        self.segment,
                        round(rss / 2**20, 1),
                        round(cpu.user + cpu.system, 2),
                    ]
                )
                self._new.notify_all()
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def mark(self, segment: str) -> None:
        self.segment = segment

    def of(self, segment: str) -> list[list]:
        return [s for s in self.samples if s[1] == segment]

    def median_rss(self, segment: str) -> float | None:
        values = [s[2] for s in self.of(segment)]
        return round(statistics.median(values), 1) if values else None

    def peak_rss(self, segment: str) -> float | None:
        values = [s[2] for s in self.of(segment)]
        return max(values) if values else None

    def cpu_share(self, segment: str) -> float | None:
        """CPU seconds per wall second over a segment's samples (1.0 = one core)."""
        rows = self.of(segment)
        if len(rows) < 2 or rows[-1][0] <= rows[0][0]:
            return None
        return round((rows[-1][3] - rows[0][3]) / (rows[-1][0] - rows[0][0]), 3)

    def wait_back(self, target_mib: float, at_least: float, timeout: float) -> float | None:
        """Seconds from now until a sample at or under target_mib (waiting at least `at_least`, at most
        `timeout`), or None if none came in time."""
        start = time.monotonic()
        seen = len(self.samples)
        back = None
        with self._new:
            while True:
                elapsed = time.monotonic() - start
                for sample in self.samples[seen:]:
                    if back is None and sample[2] <= target_mib:
                        back = elapsed
                seen = len(self.samples)
                if (back is not None and elapsed >= at_least) or elapsed >= timeout or self._halt.is_set():
                    return None if back is None else round(back, 1)
                self._new.wait(min(1.0, timeout - elapsed))

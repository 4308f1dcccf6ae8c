"""CPU time and memory of the processes a benchmark measures (psutil), shared by every benchmark."""

from __future__ import annotations

import contextlib

import psutil


def tree_cpu(pids) -> float:
    """User + system CPU seconds of each pid and all its descendants (processes that exit meanwhile
    count for what they had used when last seen alive)."""
    total = 0.0
    for pid in pids or ():
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = proc.cpu_times()
                    total += times.user + times.system
    return total


def established(pids, port: int) -> int:
    """TCP connections the given processes hold on local port `port` (the server's side of each session)."""
    total = 0
    for pid in pids or ():
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(
                1
                for c in psutil.Process(pid).net_connections("tcp")
                if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port
            )
    return total


def rss(pids) -> int:
    """Resident memory of the given processes (not their children), in bytes."""
    total = 0
    for pid in pids or ():
        with contextlib.suppress(psutil.NoSuchProcess):
            total += psutil.Process(pid).memory_info().rss
    return total

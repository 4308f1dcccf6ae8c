"""Latency of an acknowledged publish to a history topic: chat.post and bridge publishes, p50/p99.

    .venv/bin/python -m bench.ack_latency [--n 500]

Starts a hub in a temp dir, then times N sequential chat.post calls and N signed bridge publishes to
a history topic (chat.room.…) and, for comparison, to a topic without history (public.…). Written to
measure what holding PUBLISHED until the history commit (router/patches/durable_ack.py) costs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from switchboard.bridge.client import HubClient
from switchboard.router.testing.hub import Hub


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
    }


def timed(fn, n: int) -> list[float]:
    for _ in range(20):  # warm up
        fn()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Hub.started(Path(tmp)) as hub:
        results = {}
        with hub.backend_client() as c:  # a browser's calls are rate limited
            results["chat.post"] = percentiles(timed(lambda: c.call("chat.post", "latency", "hi", "ann"), args.n))
        with HubClient(hub.bridge_url, hub.bridge_key, hub.bridge_secret) as http:
            results["bridge history topic"] = percentiles(timed(lambda: http.publish("chat.room.latency", 1), args.n))
            results["bridge plain topic"] = percentiles(timed(lambda: http.publish("public.latency", 1), args.n))
        with hub.backend_client() as backend:
            results["wamp history topic"] = percentiles(timed(lambda: backend.publish("chat.room.l2", 1), args.n))
            results["wamp plain topic"] = percentiles(timed(lambda: backend.publish("public.l2", 1), args.n))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

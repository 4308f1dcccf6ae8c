"""Numbers from raw runs: percentiles, per-run summaries, the median round."""

from __future__ import annotations

import math
import statistics


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize_run(
    load: dict, receiver: dict | None, server_cpu_s: float | None, unit: str, extra: dict | None = None
) -> dict:
    """One run of one scenario: throughput, latency per timed call, CPU, delivery."""
    lat_ms = sorted(ns / 1e6 for ns in load["latencies_ns"])
    sent, wall = load["sent"], load["wall_s"]
    total_sent = sent + load["warmup"]
    summary = {
        "sent": sent,
        "wall_s": round(wall, 4),
        "publishes_per_s": round(sent / wall, 1) if wall > 0 else None,
        "latency_unit": unit,
        "latency_ms": {
            "p50": _r(percentile(lat_ms, 50)),
            "p90": _r(percentile(lat_ms, 90)),
            "p99": _r(percentile(lat_ms, 99)),
            "max": _r(lat_ms[-1] if lat_ms else None),
            "mean": _r(statistics.fmean(lat_ms) if lat_ms else None),
        },
        "calls": load["calls"],
        "loadgen_cpu_s": round(load["cpu_s"], 4),
        "loadgen_cpu_us_per_event": round(load["cpu_s"] / sent * 1e6, 1),
        "loadgen_cpu_share": round(load["cpu_s"] / wall, 3) if wall > 0 else None,
        "server_cpu_us_per_event": round(server_cpu_s / total_sent * 1e6, 1) if server_cpu_s is not None else None,
    }
    if receiver is not None:
        received = receiver["received"]
        summary["received"] = received
        summary["delivered_ratio"] = round(received / sent, 4)
        summary["duplicates"] = receiver["duplicates"]
        summary["out_of_order"] = receiver["out_of_order"]
        summary["receiver_cpu_s"] = round(receiver["cpu_s"], 3)
        if receiver.get("last_epoch") and received == sent:
            delivered_in = receiver["last_epoch"] - load["start_epoch"]
            summary["all_delivered_after_s"] = round(delivered_in, 4)
            summary["delivered_per_s"] = round(sent / delivered_in, 1) if delivered_in > 0 else None
    for key in ("http_connections_opened", "client_retries", "outbox_pending_after", "redis_connections_opened"):
        if key in load:
            summary[key] = load[key]
    summary.update(extra or {})
    return summary


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def median_run(runs: list[dict], key: str = "publishes_per_s") -> dict:
    """The run with the median `key` (throughput; the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: r[key] or 0)
    return ordered[(len(ordered) - 1) // 2]

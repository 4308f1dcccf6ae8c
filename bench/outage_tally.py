"""What one subscriber got while the cluster's Redis was away, from the publisher's and the
subscriber's records alone (no I/O): bench/cluster_outage.py feeds it, tests/unit check it.

Times are one monotonic clock's seconds; `down` is when Redis was stopped, `up` when it answered
again. An event counts as published during the outage when its publish was sent in [down, up).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Published:
    seq: int
    sent: float
    acked: bool


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def tally(published: list[Published], received: list[tuple[float, int]], down: float, up: float) -> dict:
    """Counts for one subscriber: `received` is (arrival time, seq) in arrival order."""
    sent_at = {p.seq: p.sent for p in published}
    acked = {p.seq for p in published if p.acked}
    during = {p.seq for p in published if down <= p.sent < up}
    after = {p.seq for p in published if p.sent >= up}
    seen: dict[int, float] = {}
    duplicates = out_of_order = 0
    highest = -1
    for t, seq in received:
        if seq in seen:
            duplicates += 1
            continue
        seen[seq] = t
        if seq < highest:
            out_of_order += 1
        highest = max(highest, seq)
    lost = acked - seen.keys()
    in_outage = sorted(t for t, _ in received if down <= t < up)
    edges = [down, *in_outage, up]
    first_after = min((t for t, _ in received if t >= up), default=None)
    first_fresh = min((seen[s] for s in after if s in seen), default=None)
    outage_latency = [seen[s] - sent_at[s] for s in during if s in seen]
    return {
        "published": len(published),
        "acked": len(acked),
        "published_during_outage": len(during),
        "received": len(seen),
        "lost": len(lost),
        "lost_published_before": sum(1 for s in lost if sent_at[s] < down),
        "lost_published_during": len(lost & during),
        "lost_published_after": len(lost & after),
        "duplicated": duplicates,
        "out_of_order": out_of_order,
        "outage_events_delivered_during_outage": sum(1 for s in during if s in seen and seen[s] < up),
        "outage_events_delivered_after_redis_back": sum(1 for s in during if s in seen and seen[s] >= up),
        "longest_silence_during_outage_ms": _ms(max(b - a for a, b in zip(edges, edges[1:]))),
        "first_delivery_after_redis_back_ms": _ms(None if first_after is None else first_after - up),
        "first_fresh_event_after_redis_back_ms": _ms(None if first_fresh is None else first_fresh - up),
        "outage_events_latency_ms": {
            "p50": _ms(percentile(outage_latency, 50)),
            "max": _ms(max(outage_latency, default=None)),
        },
    }


def first_at_or_after(outcomes: list[tuple[float, bool]], up: float) -> float | None:
    """Seconds from `up` to the first accepted attempt made at or after it (None: none was)."""
    return next((t - up for t, ok in sorted(outcomes) if ok and t >= up), None)

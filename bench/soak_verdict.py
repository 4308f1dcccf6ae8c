"""The soak's goals, from its two phases: the bad window's p99 within a factor of the clean one's, the
router's RSS bounded while the bad clients run and back near its baseline after they leave, every
slow consumer dropped, the malformed connections refused, no event lost by a normal subscriber."""

from __future__ import annotations

from bench.soak_bad import CHURN_ADDRESS, MALFORMED_ADDRESS, SLOW_ADDRESS


def _window(phase: dict) -> dict:
    return phase["loadgen"]["fanout"]["segments"].get("window") or {}


def lost(phase: dict) -> int:
    """Events a normal subscriber (a fan-out subscriber or the bulk reader) did not get."""
    lg = phase["loadgen"]
    return lg["fanout"]["lost"] + lg["bulk"]["lost"]


def verdict(data: dict) -> dict:
    params, clean, bad = data["params"], data["phases"]["clean"], data["phases"]["bad"]
    p99_clean, p99_bad = _window(clean).get("p99"), _window(bad).get("p99")
    ratio = round(p99_bad / p99_clean, 2) if p99_clean and p99_bad else None
    rss = bad["rss"]
    growth = round(rss["peak_window_mib"] - rss["baseline_mib"], 1) if rss["peak_window_mib"] else None
    result = bad["bad"]
    slow = result["slow_consumers"]
    subscribed = [s for s in slow if s["subscribed_s"] is not None]
    dropped = [s for s in subscribed if s["dropped_s"] is not None]
    hub_log = bad["hub_log"]
    out = {
        "p99_clean_ms": p99_clean,
        "p99_bad_ms": p99_bad,
        "p99_ratio": ratio,
        "rss_growth_mib": growth,
        "rss_back_after_s": rss["back_after_s"],
        "slow_consumers": len(slow),
        "slow_subscribed": len(subscribed),
        "slow_dropped": len(dropped),
        "slow_dropped_by_send_buffer": hub_log["slow_consumers_dropped"].get(SLOW_ADDRESS, 0),
        "slow_seconds_to_drop": sorted(round(s["dropped_s"] - s["subscribed_s"], 1) for s in dropped),
        "malformed": result["malformed_total"],
        "malformed_refused": result["malformed_refused"],
        "malformed_refused_at_accept": hub_log["connections_refused"].get(MALFORMED_ADDRESS, 0),
        "churn": result["churn_total"],
        "churn_ok": result["churn_ok"],
        "churn_refused_at_accept": hub_log["connections_refused"].get(CHURN_ADDRESS, 0),
        "lost": lost(clean) + lost(bad),
        "normal_disconnected": clean["loadgen"]["disconnected"] + bad["loadgen"]["disconnected"],
    }
    out["goals"] = [
        (
            f"bad window p99 within {params['p99_factor']:g}x of the clean one",
            ratio is not None and ratio <= params["p99_factor"],
            f"{p99_bad} vs {p99_clean} ms ({ratio}x)",
        ),
        (
            f"router RSS bounded during the bad window (peak at most {params['rss_bound_mib']:g} MiB over baseline)",
            growth is not None and growth <= params["rss_bound_mib"],
            f"baseline {rss['baseline_mib']} MiB, peak {rss['peak_window_mib']} MiB (+{growth})",
        ),
        (
            f"router RSS back within {rss['target_mib'] - rss['baseline_mib']:.0f} MiB of baseline after the bad "
            f"clients left (within {params['recovery_timeout']:g} s)",
            rss["back_after_s"] is not None,
            f"{'after ' + str(rss['back_after_s']) + ' s' if rss['back_after_s'] is not None else 'not in time'}; "
            f"last sample {rss['end_mib']} MiB",
        ),
        (
            "every slow consumer dropped by the send buffer limit",
            bool(subscribed) and len(dropped) == len(subscribed) == out["slow_dropped_by_send_buffer"],
            f"{len(dropped)} of {len(subscribed)} dropped, {out['slow_dropped_by_send_buffer']} by the send buffer "
            "(hub log)",
        ),
        (
            "every malformed connection refused",
            out["malformed"] > 0 and out["malformed_refused"] == out["malformed"],
            f"{out['malformed_refused']} of {out['malformed']} ({out['malformed_refused_at_accept']} at accept by the "
            "per-address limits)",
        ),
        (
            "no event lost by a normal subscriber, none dropped",
            out["lost"] == 0 and out["normal_disconnected"] == 0,
            f"{out['lost']} lost, {out['normal_disconnected']} disconnected",
        ),
    ]
    out["goals"] = [{"goal": g, "met": bool(met), "measured": m} for g, met, m in out["goals"]]
    return out

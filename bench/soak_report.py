"""The soak's results as Markdown (bench/results/soak.md, and the table docs/benchmarks.md quotes) and a
chart of the router's RSS and the subscribers' p99 over time, both phases on one time axis."""

from __future__ import annotations

import os
from pathlib import Path

from bench.soak_bad import MALFORMED

PHASES = ("clean", "bad")


def _n(v, d=0) -> str:
    return "–" if v is None else f"{v:,.{d}f}"


def _lat(seg: dict | None) -> str:
    seg = seg or {}
    return f"{_n(seg.get('p50'), 1)} / **{_n(seg.get('p99'), 1)}** / {_n(seg.get('max'), 1)}"


def table(data: dict) -> str:
    """One column per phase."""
    phases = [data["phases"].get(p) for p in PHASES]
    p = data["params"]

    def row(label: str, cell) -> str:
        return f"| {label} | " + " | ".join(cell(ph) if ph else "failed" for ph in phases) + " |"

    def bad(cell):
        return lambda ph: cell(ph["bad"]) if ph.get("bad") else "–"

    fan = lambda ph: ph["loadgen"]["fanout"]  # noqa: E731
    rss = lambda ph: ph["rss"]  # noqa: E731
    v = data.get("verdict") or {}
    lines = [
        "| | clean | bad |",
        "| --- | ---: | ---: |",
        row("normal subscribers (fan-out) + bulk reader", lambda ph: f"{ph['loadgen']['subscribers']:,} + 1"),
        row(
            f"fan-out events in the {p['window_seconds']:g} s window",
            lambda ph: _n(fan(ph)["events_per_segment"].get("window")),
        ),
        row("latency in the window: p50 / **p99** / max ms", lambda ph: _lat(fan(ph)["segments"].get("window"))),
        row(
            "latency in the baseline before it: p50 / **p99** / max ms",
            lambda ph: _lat(fan(ph)["segments"].get("baseline")),
        ),
        row("latency after it: p50 / **p99** / max ms", lambda ph: _lat(fan(ph)["segments"].get("after"))),
        row(
            "events lost by normal subscribers (fan-out + bulk)",
            lambda ph: f"**{fan(ph)['lost'] + ph['loadgen']['bulk']['lost']}**",
        ),
        row("normal connections dropped by the hub", lambda ph: str(ph["loadgen"]["disconnected"])),
        row(
            "router RSS: baseline → peak in the window (MiB)",
            lambda ph: f"{_n(rss(ph)['baseline_mib'], 1)} → **{_n(rss(ph)['peak_window_mib'], 1)}**",
        ),
        row(
            "router RSS after the window: peak, last sample (MiB); last − baseline",
            lambda ph: (
                f"{_n(rss(ph)['peak_after_mib'], 1)}, {_n(rss(ph)['end_mib'], 1)}; "
                f"**{_n(rss(ph)['end_mib'] - rss(ph)['baseline_mib'], 1)}**"
            ),
        ),
        row(
            "back within the margin of the baseline after",
            lambda ph: "not in time" if rss(ph)["back_after_s"] is None else f"{rss(ph)['back_after_s']:g} s",
        ),
        row(
            "router CPU: baseline / window / after",
            lambda ph: " / ".join(_n(None if x is None else x * 100) + "%" for x in ph["router_cpu_share"].values()),
        ),
        row(
            "slow consumers dropped / subscribed (by the send buffer, hub log)",
            bad(
                lambda b: (
                    f"{v.get('slow_dropped')} / {v.get('slow_subscribed')} ({v.get('slow_dropped_by_send_buffer')})"
                )
            ),
        ),
        row(
            "seconds from subscribing to being dropped (min–max)",
            bad(
                lambda b: (
                    f"{_n(min(v['slow_seconds_to_drop']), 1)}–{_n(max(v['slow_seconds_to_drop']), 1)}"
                    if v.get("slow_seconds_to_drop")
                    else "–"
                )
            ),
        ),
        row(
            "malformed connections refused / opened (at accept, by the per-address limits)",
            bad(
                lambda b: (
                    f"{b['malformed_refused']:,} / {b['malformed_total']:,} "
                    f"({v.get('malformed_refused_at_accept', 0):,})"
                )
            ),
        ),
        row(
            "churn sessions joined, subscribed and left / started",
            bad(lambda b: f"{b['churn_ok']:,} / {b['churn_total']:,}"),
        ),
        row(
            "hub log written during the window (KiB); tracebacks in the log",
            lambda ph: f"{_n(ph['hub_log_window_kib'], 1)}; {ph['hub_log']['tracebacks']}",
        ),
        row(
            "load generator / bad clients CPU",
            lambda ph: (
                f"{_n(ph['loadgen']['loadgen_cpu_share'] * 100)}% / "
                + (f"{_n(ph['bad']['cpu_share'] * 100)}%" if ph.get("bad") else "–")
            ),
        ),
    ]
    return "\n".join(lines)


def malformed_table(data: dict) -> str:
    bad = (data["phases"].get("bad") or {}).get("bad")
    if not bad:
        return "(no bad phase)"
    lines = ["| kind | how the connections ended |", "| --- | --- |"]
    for kind in MALFORMED:
        outcomes = bad["malformed"].get(kind) or {}
        cells = ", ".join(f"{o}: {n:,}" for o, n in sorted(outcomes.items(), key=lambda kv: -kv[1]))
        lines.append(f"| `{kind}` | {cells or '–'} |")
    return "\n".join(lines)


def log_kinds(data: dict) -> str:
    bad = data["phases"].get("bad") or {}
    rows = bad.get("hub_log_window_kinds") or []
    if not rows:
        return "(nothing)"
    lines = ["| kind of line (variable parts …) | lines | KiB |", "| --- | ---: | ---: |"]
    lines += [f"| `{kind.replace('|', '/').replace('`', '')}` | {n:,} | {size / 1024:,.1f} |" for kind, n, size in rows]
    return "\n".join(lines)


def goals(data: dict) -> str:
    v = data.get("verdict")
    if not v:
        return "No verdict: " + "; ".join(data["errors"])
    return "\n".join(f"- {'met' if g['met'] else '**NOT met**'}: {g['goal']}: {g['measured']}" for g in v["goals"])


def machine_line(data: dict) -> str:
    mi = data["machine"]
    pk = mi["packages"]
    return (
        f"{mi['cpu_model']}, {mi['cpus']} CPUs ({mi['cpus_usable']} usable), {mi['memory_gib']} GiB, {mi['os']}; "
        f"Python {mi['python']}; crossbar {pk.get('crossbar')}, autobahn {pk.get('autobahn')}, Twisted "
        f"{pk.get('Twisted')}. Load average at start {mi['loadavg_start']}, at end {mi.get('loadavg_end')}."
    )


def method(data: dict) -> str:
    p = data["params"]
    return (
        f"{p['subscribers']:,} WebSocket subscribers (msgpack, from 127.0.1.x, 80 per address) of one topic, "
        f"{p['rate']:g} events/s of {p['payload_bytes']} bytes; beside it a bulk topic at {p['bulk_rate']:g} "
        f"events/s of {p['bulk_bytes']:,} bytes with one reader. Each phase on a fresh hub: "
        f"{p['warmup_seconds']:g} s warm-up, {p['baseline_seconds']:g} s baseline, a {p['window_seconds']:g} s "
        f"window, then at least {p['after_seconds']:g} s and up to {p['recovery_timeout']:g} s until the router's "
        f"RSS is back within max({p['rss_margin_mib']:g} MiB, {p['rss_margin_fraction']:.0%}) of the baseline. "
        f"Bad window: {p['slow_consumers']} slow consumers from 127.0.0.2 (one every {p['slow_interval']:g} s), "
        f"{p['malformed_rate']:g} malformed connections/s from 127.0.0.3, {p['churn_rate']:g} churning sessions/s "
        "from 127.0.0.4."
    )


def render(data: dict) -> str:
    quick = " (QUICK RUN: small numbers, not for comparison)" if data["params"]["quick"] else ""
    return f"""# Soak: normal subscribers beside slow, malformed and churning clients{quick}

Generated by `{data["command"]}` at {data["started_utc"]} in {data["duration_s"]} s.
How to read it: [docs/benchmarks.md](../../docs/benchmarks.md#soak).

{method(data)}

{table(data)}

Goals:

{goals(data)}

Malformed connections, by kind (each waited at most {data["params"]["malformed_timeout"]:g} s for the hub):

{malformed_table(data)}

What the hub logged during the bad window, by kind of line (largest first):

{log_kinds(data)}

Machine: {machine_line(data)}

CPU pinning: {data["cpu_pinning"]["description"]}.
"""


def chart(data: dict, out_dir: Path, log) -> list[str]:
    """RSS and per-second p99 of both phases against seconds since each phase's set-up; [] without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        if os.environ.get("CI"):
            raise
        log("matplotlib is not installed: no chart (make bench installs it)")
        return []
    fig, (ax_rss, ax_lat) = plt.subplots(1, 2, figsize=(13, 4.5))
    for name in PHASES:
        ph = data["phases"].get(name)
        if not ph or "rss" not in ph:
            continue
        samples = ph["rss"]["samples"]
        ax_rss.plot([s[0] for s in samples], [s[2] for s in samples], label=name)
        window = [s[0] for s in samples if s[1] == "window"]
        if window:
            ax_rss.axvspan(min(window), max(window), alpha=0.08, color="C1" if name == "bad" else "C0")
        per_second = ph["loadgen"]["fanout"]["per_second"]
        ax_lat.plot([s[0] for s in per_second], [s[2] for s in per_second], label=name, linewidth=0.8)
    ax_rss.set_title("Router worker RSS, MiB (window shaded)")
    ax_rss.set_xlabel("s since the hub's set-up")
    ax_lat.set_title("Fan-out p99 per second of publishing, ms")
    ax_lat.set_xlabel("s since publishing began")
    ax_lat.set_yscale("log")
    for ax in (ax_rss, ax_lat):
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / f"{data['params']['name']}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return [str(path)]

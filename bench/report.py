"""Markdown from the results dict: the results file, and the table section of docs/benchmarks.md."""

from __future__ import annotations

import re
from pathlib import Path

#: docs/benchmarks.md, whose sections between `<!-- bench:<name>:start/end -->` markers the runs rewrite
DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def replace_docs_section(name: str, body: str, path: Path = DOCS) -> bool:
    """Put `body` between the `bench:<name>` markers of `path`; False if the file or the markers are
    missing. The section opens with a line naming the run's results file."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if start not in text or end not in text:
        return False
    section = f"{start}\n{body}\n{end}"
    path.write_text(
        re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: section, text, flags=re.S), encoding="utf-8"
    )
    return True


def _num(value, digits=0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def table(data: dict) -> str:
    batch = data["params"]["batch_size"]
    lines = [
        "| scenario | publishes/s (median round) | range over rounds | p50 / p99 latency per call (ms) "
        "| load generator CPU per event (µs) | server CPU per event (µs) | received / sent |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in data["rows"]:
        name = row["label"] + ("" if row["core"] else " *(reference)*")
        m = row.get("median")
        if not m:
            lines.append(f"| {name} | failed | | | | | {'; '.join(row['errors'])[:120]} |")
            continue
        unit = {"event": "per event", "batch": f"per {batch}-event call", "transaction": "per transaction"}[
            m["latency_unit"]
        ]
        lo, hi = row["publishes_per_s_range"]
        lat = f"{_num(m['latency_ms']['p50'], 2)} / {_num(m['latency_ms']['p99'], 2)} ({unit})"
        received = f"{m.get('received', '–')} / {m['sent']}"
        lines.append(
            f"| {name} | **{_num(m['publishes_per_s'])}** | {_num(lo)}–{_num(hi)} | {lat} "
            f"| {_num(m['loadgen_cpu_us_per_event'])} | {_num(m['server_cpu_us_per_event'])} | {received} |"
        )
    return "\n".join(lines)


def machine_line(data: dict) -> str:
    mi = data["machine"]
    pk = mi["packages"]
    return (
        f"{mi['cpu_model']}, {mi['cpus']} CPUs ({mi['cpus_usable']} usable), {mi['memory_gib']} GiB, "
        f"{mi['os']}; Python {mi['python']}; Django {pk.get('Django')}, channels {pk.get('channels')}, "
        f"channels_redis {pk.get('channels_redis')}, redis-py {pk.get('redis')}, asgiref {pk.get('asgiref')}, "
        f"redis-server {mi.get('redis_server')}; crossbar {pk.get('crossbar')}, autobahn {pk.get('autobahn')}, "
        f"Twisted {pk.get('Twisted')}, urllib3 {pk.get('urllib3')}. Load average at start "
        f"{mi['loadavg_start']}, at end {mi.get('loadavg_end')}."
    )


def ratios(data: dict) -> str:
    if not data["ratios"]:
        return "(no ratio: a side is missing)"
    return "\n".join(f"- {k}: **{v:.2f}×**" for k, v in data["ratios"].items())


def details(data: dict) -> str:
    lines = []
    for row in data["rows"]:
        m = row.get("median")
        facts = []
        if m:
            if m.get("http_connections_opened") is not None:
                facts.append(f"HTTP connections opened by the client: {m['http_connections_opened']}")
            if m.get("redis_connections_opened") is not None:
                facts.append(f"Redis connections opened: {m['redis_connections_opened']:,}")
            if m.get("client_retries") is not None:
                facts.append(f"client retries: {m['client_retries']}")
            if m.get("outbox_pending_after") is not None:
                facts.append(f"outbox rows still pending: {m['outbox_pending_after']}")
            if m.get("delivered_per_s"):
                facts.append(
                    f"last event received {m['all_delivered_after_s']:.2f} s after the first send "
                    f"({_num(m['delivered_per_s'])} delivered/s)"
                )
            facts.append(
                f"load generator CPU {m['loadgen_cpu_s']:.2f} s for {m['sent']:,} events "
                f"(busy {m['loadgen_cpu_share'] * 100:.0f}% of the wall time)"
            )
            facts.append(f"duplicates {m.get('duplicates')}, out of order {m.get('out_of_order')}")
        if row["errors"]:
            facts.append("errors: " + "; ".join(row["errors"]))
        lines.append(f"- **{row['scenario']}** — {row['description']}. " + "; ".join(facts) + ".")
    return "\n".join(lines)


def render_markdown(data: dict) -> str:
    p = data["params"]
    quick = " (QUICK RUN: small numbers, not for comparison)" if p["quick"] else ""
    notes = "".join(f"\n- note: {n}" for n in p.get("notes") or ())
    status = (
        "all core scenarios delivered every event" if not data["failed"] else "**FAILED**: " + "; ".join(data["failed"])
    )
    return f"""# Publishing from Django: Switchboard HTTP bridge vs Channels group_send{quick}

Generated by `{data["command"].strip()}` at {data["started_utc"]} in {data["duration_s"]} s; {status}.
How to read it: [docs/benchmarks.md](../../docs/benchmarks.md).

{table(data)}

Ratios (median rounds, publishes/s):

{ratios(data)}

Channels has no batch API (`group_send` takes one message); the chunked row is the nearest thing.

Machine: {machine_line(data)}

CPU pinning: {data["cpu_pinning"]["description"]}.

Parameters: {p["events"]} events per run ({p["outbox_events"]} for the outbox row) after {p["warmup"]} warm-up
events, {p["payload_bytes"]}-byte JSON payload, batches of {p["batch_size"]}, {p["rounds"]} round(s) with the
scenario order rotated each round, hub log level `{p["hub_loglevel"]}`; outbox database:
{data["machine"].get("outbox_db", "–")}.{notes}

Per scenario:

{details(data)}
"""


def update_docs(path: Path, data: dict) -> bool:
    """Replace the table section between the markers in docs/benchmarks.md; False if there are no markers."""
    return replace_docs_section(
        "django_publish",
        (
            f"Latest full run: {data['started_utc']} (`bench/results/django_publish.md`).\n\n"
            f"{table(data)}\n\nRatios (median rounds, publishes/s):\n\n{ratios(data)}\n\n"
            f"Machine: {machine_line(data)}\n\n"
            f"CPU pinning: {data['cpu_pinning']['description']}."
        ),
        path,
    )

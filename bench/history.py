"""What event history costs, and how fast a client catches up: `python -m bench.history [--quick]`.

Same hub, same run, same publisher: N events on a topic without history, then N on a history-enabled
topic; a live subscriber counts deliveries and history.get confirms storage. Then a client that
missed R events recovers them page by page (limit 1000) with history.get. Writes
bench/results/history.{json,md}. A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from switchboard.router import settings as S
from switchboard.router.testing.hub import Hub

from bench import machine

RESULTS = Path(__file__).parent / "results"
QUICK_RESULTS = S.PROJECT_ROOT / "test-results" / "bench"  # --quick runs: not for the record
PAYLOAD = {"text": "x" * 100}
PLAIN_TOPIC = "bench.plain.events"
HISTORY_PREFIX = "bench.history."
PAGE = 1000


def bench_config(retain: int) -> dict:
    """The committed config plus a history rule for the bench topics large enough to keep everything,
    which anonymous (browser-like) sessions may read."""
    config = S.load_config()
    history = next(c for c in S.router_worker(config)["components"] if c["id"] == "history")
    history["extra"]["topics"].append({"uri": HISTORY_PREFIX, "match": "prefix", "max_events": retain})
    anonymous = next(r for r in S.router_worker(config)["realms"][0]["roles"] if r["name"] == "anonymous")
    anonymous["permissions"].append({"uri": HISTORY_PREFIX, "match": "prefix", "allow": {"subscribe": True}})
    return config


def publish_burst(client, topic: str, n: int) -> None:
    """Publish n events unacknowledged, as fast as the transport takes them."""

    async def burst():
        for i in range(n):
            client.session.publish(topic, PAYLOAD, i)
            if i % 200 == 199:
                await asyncio.sleep(0)  # let the transport write

    client._invoke(burst, timeout=600)


def delivery_run(hub, topic: str, n: int) -> dict:
    with hub.backend_client(serializer="msgpack") as publisher, hub.backend_client(serializer="msgpack") as watcher:
        live = watcher.subscribe(topic)
        started = time.perf_counter()
        publish_burst(publisher, topic, n)
        for _ in range(n):
            live.get(timeout=60)
        delivered = time.perf_counter() - started
        stored = None
        if topic.startswith(HISTORY_PREFIX):
            while watcher.call("history.get", topic, limit=1)["last"] < n:
                time.sleep(0.005)  # polling the store; bounded by the 60 s get() above having passed
            stored = time.perf_counter() - started
    return {
        "topic": topic,
        "events": n,
        "delivered_per_s": round(n / delivered),
        "delivered_s": round(delivered, 3),
        "stored_per_s": round(n / stored) if stored else None,
        "stored_s": round(stored, 3) if stored else None,
    }


def recovery_run(hub, topic: str, missed: int) -> dict:
    with hub.backend_client(serializer="msgpack") as publisher:
        publish_burst(publisher, topic, missed)
        while publisher.call("history.get", topic, limit=1)["last"] < missed:
            time.sleep(0.005)
    with hub.client(serializer="msgpack") as client:  # a browser-like session catching up
        started = time.perf_counter()
        got, since = 0, 0
        while True:
            page = client.call("history.get", topic, since=since, limit=PAGE, timeout=60)
            if not page["events"]:
                break
            got += len(page["events"])
            since = page["events"][-1]["position"]
        elapsed = time.perf_counter() - started
    return {
        "missed": missed,
        "recovered": got,
        "seconds": round(elapsed, 3),
        "events_per_s": round(got / elapsed),
        "pages": -(-missed // PAGE),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small numbers, for a smoke run")
    args = parser.parse_args(argv)
    n, missed = (2000, 2000) if args.quick else (20000, 10000)
    with tempfile.TemporaryDirectory() as tmp:
        with Hub.started(Path(tmp), with_components=False, loglevel="warn", config=bench_config(max(n, missed))) as hub:
            off = delivery_run(hub, PLAIN_TOPIC, n)
            on = delivery_run(hub, HISTORY_PREFIX + "live", n)
            recovery = recovery_run(hub, HISTORY_PREFIX + "missed", missed)
    ratio = round(on["delivered_per_s"] / off["delivered_per_s"], 2)
    result = {
        "machine": machine.info(),
        "history_off": off,
        "history_on": on,
        "on_off_delivery_ratio": ratio,
        "recovery": recovery,
        "quick": args.quick,
    }
    out = QUICK_RESULTS if args.quick else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    (out / "history.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    table = "\n".join(
        [
            "| run | events | delivered/s | stored/s |",
            "| --- | ---: | ---: | ---: |",
            f"| history off ({off['topic']}) | {n} | {off['delivered_per_s']:,} | – |",
            f"| history on ({on['topic']}) | {n} | {on['delivered_per_s']:,} | {on['stored_per_s']:,} |",
            "",
            f"History on / off, delivery: **{ratio}**.",
            "",
            f"Recovering {recovery['missed']:,} missed events with history.get ({recovery['pages']} pages of {PAGE}):"
            f" **{recovery['seconds']} s** ({recovery['events_per_s']:,} events/s).",
        ]
    )
    (out / "history.md").write_text(f"# History benchmark\n\n{table}\n", encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The load generator: ONE synchronous Django process publishing events, as a web or worker process would.

    python -m bench.loadgen '<json config>'    (run by bench.django_publish; prints one JSON line)

It pins itself to `cpu` (if given) before anything else, sets Django up, sends `warmup` events,
then times `events` events and reports throughput, per-call latencies and its own CPU time.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time

from bench.scenarios import SCENARIOS, payload


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


class _Counter(logging.Handler):
    """Counts the HubClient's retry log lines, so hidden retries show in the results."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record):
        if "retrying" in record.getMessage():
            self.count += 1


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _timed(calls, items) -> tuple[list[int], float, float, float]:
    """Run calls(item) for each item: per-call latencies (ns), wall seconds, CPU seconds, wall start (epoch)."""
    latencies = []
    start_epoch = time.time()
    cpu0, t0 = _cpu_seconds(), time.perf_counter_ns()
    for item in items:
        c0 = time.perf_counter_ns()
        calls(item)
        latencies.append(time.perf_counter_ns() - c0)
    wall = (time.perf_counter_ns() - t0) / 1e9
    return latencies, wall, _cpu_seconds() - cpu0, start_epoch


def run(cfg: dict) -> dict:
    scenario = SCENARIOS[cfg["scenario"]]
    size = cfg["payload_bytes"]
    warm = [payload(i, "w", size) for i in range(cfg["warmup"])]
    measured = [payload(i, "m", size) for i in range(cfg["events"])]
    batch = cfg["batch_size"]
    extra: dict = {}

    from bench.djangosetup import configure

    configure(cfg)

    if scenario.system == "switchboard":
        from switchboard.bridge.client import HubClient

        counter = _Counter()
        logging.getLogger("bridge").addHandler(counter)
        logging.getLogger("bridge").setLevel(logging.INFO)
        topic = cfg["topic"]
        if scenario.name == "sb_outbox":
            from django.core.management import call_command
            from django.db import transaction
            from switchboard.bridge.django import publish

            call_command("migrate", verbosity=0, interactive=False)

            def one(data):
                with transaction.atomic():
                    publish(topic, data)

            for data in warm:
                one(data)
            latencies, wall, cpu, start = _timed(one, measured)
            from switchboard.bridge.django.models import OutboxEvent

            extra["outbox_pending_after"] = OutboxEvent.objects.pending().count()
            client = None
        else:
            from django.conf import settings

            sb = settings.SWITCHBOARD
            client = HubClient(sb["URL"], sb["KEY"], sb["SECRET"])
            if scenario.name == "sb_publish":

                def one(data):
                    client.publish(topic, data)

                for data in warm:
                    one(data)
                latencies, wall, cpu, start = _timed(one, measured)
            else:

                def one(chunk):
                    client.publish_many([{"topic": topic, "args": [data]} for data in chunk])

                for chunk in _chunks(warm, batch):
                    one(chunk)
                latencies, wall, cpu, start = _timed(one, _chunks(measured, batch))
            extra["http_connections_opened"] = _connections_opened(client)
            client.close()
        extra["client_retries"] = counter.count
    else:
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        group = cfg["group"]

        def message(data):
            return {"type": "bench.event", "data": data}

        if scenario.name == "ch_group_send_chunked":

            async def send_all(chunk):
                for data in chunk:
                    await layer.group_send(group, message(data))

            one = async_to_sync(send_all)
            for chunk in _chunks(warm, batch):
                one(chunk)
            latencies, wall, cpu, start = _timed(one, _chunks(measured, batch))
        else:
            send = async_to_sync(layer.group_send)

            def one(data):
                send(group, message(data))

            for data in warm:
                one(data)
            latencies, wall, cpu, start = _timed(one, measured)

    return {
        "scenario": scenario.name,
        "sent": len(measured),
        "warmup": len(warm),
        "calls": len(latencies),
        "wall_s": wall,
        "cpu_s": cpu,
        "start_epoch": start,
        "end_epoch": start + wall,
        "latencies_ns": latencies,
        "pid": os.getpid(),
        "affinity": sorted(os.sched_getaffinity(0)),
        **extra,
    }


def _connections_opened(client) -> int | None:
    """New TCP connections the client's pool opened (1 = keep-alive held); None if urllib3 hides it."""
    try:
        pools = client._http.pools
        return sum(pools[key].num_connections for key in pools.keys())
    except Exception:
        return None


def main() -> int:
    cfg = json.loads(sys.argv[1])
    if cfg.get("cpu") is not None:
        os.sched_setaffinity(0, {cfg["cpu"]})
    result = run(cfg)
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

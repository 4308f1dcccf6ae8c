"""The soak's normal clients, built from bench.peers_loadgen's WAMP-over-msgpack code: N subscribers of
the fan-out topic, one reader of the busy bulk topic, a publisher for each, publishing on a clock
until told to stop. They connect from 127.0.1.x, at most PER_ADDRESS per address, as browsers come
from many addresses: the hub's per-address limits stay at their defaults and never refuse them.
`python -m bench.soak_loadgen '<json config>'`.

It prints `READY <json>` once every session is open and publishing has begun, then reads commands on
stdin: `MARK <segment>` starts a new latency segment (the orchestrator names them: baseline,
window, after), `STOP` stops publishing, waits for every event to arrive (or stall_timeout without
progress) and prints `RESULT <json>`: latency per segment and per second, and what was lost.
"""

from __future__ import annotations

import array
import asyncio
import gc
import json
import resource
import sys
import time

import aiohttp
import uvloop

from bench.peers_loadgen import (
    WampMsgpack,
    close_all,
    cpu_s,
    drain,
    lat_summary,
    open_many,
    payload_text,
    process_config,
    send,
)

#: connections per source address: within the default 500 open and the connect burst of 100 (20/s for 5 s)
PER_ADDRESS = 80


class Tally:
    """What the subscribers of one topic received: per event how many got it, latency per segment and
    per second since the start, and events that came twice or out of order."""

    def __init__(self, need: int, t0_ns: int):
        self.need, self.t0_ns = need, t0_ns
        self.counts: dict[int, int] = {}
        self.segment_of: dict[int, str] = {}
        self.segments: dict[str, array.array] = {}
        self.seconds: dict[int, array.array] = {}
        self.events: dict[str, int] = {}
        self.completed = self.delivered = self.disorder = self.unparsed = 0
        self.progress = asyncio.Event()

    def sent(self, seq: int, segment: str) -> None:
        self.segment_of[seq] = segment
        self.segments.setdefault(segment, array.array("q"))
        self.events[segment] = self.events.get(segment, 0) + 1

    def reader(self, event):
        """A callback for one connection's messages (each connection checks its own order)."""
        last = [-1]

        def on_message(data):
            fields = event(data)
            if fields is None:
                self.unparsed += 1
                return
            now = time.time_ns()
            sent_ns, seq = fields
            if seq <= last[0]:
                self.disorder += 1
            last[0] = seq
            lat = now - sent_ns
            self.segments[self.segment_of[seq]].append(lat)
            self.seconds.setdefault((sent_ns - self.t0_ns) // 1_000_000_000, array.array("q")).append(lat)
            self.delivered += 1
            c = self.counts.pop(seq, 0) + 1
            if c == self.need:
                self.completed += 1
                self.progress.set()
            else:
                self.counts[seq] = c

        return on_message

    async def wait_all(self, sent: int, stall: float) -> bool:
        """Until every sent event reached every reader; False after `stall` seconds without progress."""
        while self.completed < sent:
            self.progress.clear()
            try:
                await asyncio.wait_for(self.progress.wait(), stall)
            except asyncio.TimeoutError:
                return False
        return True

    def summary(self, sent: int) -> dict:
        per_second = []
        for s in sorted(self.seconds):
            lat = lat_summary(self.seconds[s])
            per_second.append([s, lat["p50"], lat["p99"], lat["count"]])
        return {
            "events_sent": sent,
            "expected": sent * self.need,
            "delivered": self.delivered,
            "lost": sent * self.need - self.delivered,
            "out_of_order_or_twice": self.disorder,
            "unparsed": self.unparsed,
            "events_per_segment": self.events,
            "segments": {name: lat_summary(values) for name, values in self.segments.items()},
            "per_second": per_second,
        }


async def publish(ws, proto, tally: Tally, rate: float, size: int, state: dict, key: str) -> None:
    """Events on a clock (the k-th due at start + k / rate; late ones go at once), until state["stop"]."""
    t0, seq = time.monotonic(), 0
    while not state["stop"]:
        due = t0 + seq / rate
        if due > time.monotonic():
            await asyncio.sleep(due - time.monotonic())
            continue
        tally.sent(seq, state["segment"])
        await send(ws, proto.pub_text(payload_text(time.time_ns(), seq, size)))
        seq += 1
        state[key] = seq


async def commands(state: dict) -> None:
    """MARK <segment> / STOP from the orchestrator, one per line."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        words = line.split()
        if not words or words[0] == "STOP":
            return
        if words[0] == "MARK" and len(words) == 2:
            state["segment"] = words[1]
            state["marks"].append([words[1], round(time.monotonic() - state["t0"], 3)])


def address_sessions(connections: int) -> list[aiohttp.ClientSession]:
    """One aiohttp session per source address 127.0.1.1, .2, ...: open_many spreads connections over them."""
    timeout = aiohttp.ClientTimeout(total=None, connect=30, sock_connect=30)
    return [
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, local_addr=(f"127.0.1.{i + 1}", 0), force_close=True),
            timeout=timeout,
        )
        for i in range(-(-connections // PER_ADDRESS))
    ]


async def soak(cfg: dict) -> dict:
    n, stall = cfg["subscribers"], cfg["stall_timeout"]
    fan = WampMsgpack(cfg)
    bulk = WampMsgpack({**cfg, "topic": cfg["bulk_topic"]})
    sessions = address_sessions(n + 3)
    t_setup = time.monotonic()
    subs, errors, failed = await open_many(fan, sessions, n, 50, subscribe=True)
    extra, extra_errors, extra_failed = await open_many(bulk, sessions, 1, 1, subscribe=True)
    pubs, pub_errors, pub_failed = await open_many(fan, sessions, 2, 2, subscribe=False)
    if failed or extra_failed or pub_failed:
        await close_all(subs + extra + pubs, sessions)
        return {
            "error": f"{failed} of {n} subscribers, {extra_failed} bulk readers, {pub_failed} publishers "
            f"failed: {(errors + extra_errors + pub_errors)[:3]}"
        }
    setup_s = time.monotonic() - t_setup
    gc.collect()
    gc.freeze()  # the sessions leave the collector's walks: no long pauses counted as the hub's latency
    t0_ns = time.time_ns()
    fan_tally, bulk_tally = Tally(len(subs), t0_ns), Tally(1, t0_ns)
    state = {"stop": False, "segment": "warmup", "marks": [], "t0": time.monotonic(), "fan_sent": 0, "bulk_sent": 0}
    readers = [asyncio.ensure_future(drain(ws, fan, fan_tally.reader(fan.event))) for ws in subs]
    readers.append(asyncio.ensure_future(drain(extra[0], bulk, bulk_tally.reader(bulk.event))))
    readers += [asyncio.ensure_future(drain(ws, fan)) for ws in pubs]
    cpu0 = cpu_s()
    publishers = [
        asyncio.ensure_future(publish(pubs[0], fan, fan_tally, cfg["rate"], cfg["payload_bytes"], state, "fan_sent")),
        asyncio.ensure_future(
            publish(pubs[1], bulk, bulk_tally, cfg["bulk_rate"], cfg["bulk_bytes"], state, "bulk_sent")
        ),
    ]
    print("READY " + json.dumps({"setup_s": round(setup_s, 2), "subscribers": len(subs)}), flush=True)
    await commands(state)
    state["stop"] = True
    await asyncio.gather(*publishers)
    publishing_s = time.monotonic() - state["t0"]
    fan_done = await fan_tally.wait_all(state["fan_sent"], stall)
    bulk_done = await bulk_tally.wait_all(state["bulk_sent"], stall)
    cpu = cpu_s() - cpu0
    # a reader ends when its connection does (a normal subscriber the hub dropped), or when its callback failed
    ended = [ws for ws, r in zip(subs + extra + pubs, readers) if r.done()]
    disconnected = sum(1 for ws in ended if ws.closed)
    for r in readers:
        r.cancel()
    await close_all(subs + extra + pubs, sessions)
    return {
        "subscribers": len(subs),
        "setup_s": round(setup_s, 2),
        "publishing_s": round(publishing_s, 2),
        "marks": state["marks"],
        "stalled": not (fan_done and bulk_done),
        "disconnected": disconnected,
        "readers_failed": len(ended) - disconnected,
        "fanout": fan_tally.summary(state["fan_sent"]),
        "bulk": bulk_tally.summary(state["bulk_sent"]),
        "loadgen_cpu_share": round(cpu / publishing_s, 3) if publishing_s > 0 else None,
        "loadgen_max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    cfg = process_config()
    result = uvloop.run(asyncio.wait_for(soak(cfg), cfg.get("timeout", 900)))
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

"""The receiving end: counts the measured events one subscriber gets, so throughput is delivery, not hope.

    python -m bench.receiver '<json config>'

Prints "READY" once subscribed (WAMP) or in the group (Channels). The orchestrator writes "DONE\n"
to stdin when the load generator has finished; the receiver then waits until it has every measured
event, or `drain_timeout` seconds, and prints one "RESULT {json}" line.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import resource
import sys
import threading
import time


class Tally:
    def __init__(self, expected: int):
        self.expected = expected
        self.seen: set[int] = set()
        self.duplicates = 0
        self.out_of_order = 0
        self.warmup = 0
        self.last_seq = -1
        self.first_epoch: float | None = None
        self.last_epoch: float | None = None

    def add(self, data) -> None:
        now = time.time()
        if not isinstance(data, dict) or data.get("phase") != "m":
            self.warmup += 1
            return
        seq = data["seq"]
        if seq in self.seen:
            self.duplicates += 1
        self.seen.add(seq)
        if seq < self.last_seq:
            self.out_of_order += 1
        self.last_seq = seq
        self.first_epoch = self.first_epoch or now
        self.last_epoch = now

    @property
    def complete(self) -> bool:
        return len(self.seen) >= self.expected

    def result(self) -> dict:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "received": len(self.seen),
            "expected": self.expected,
            "duplicates": self.duplicates,
            "out_of_order": self.out_of_order,
            "warmup_received": self.warmup,
            "first_epoch": self.first_epoch,
            "last_epoch": self.last_epoch,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "pid": os.getpid(),
        }


def _stdin_done(flag: threading.Event) -> None:
    for line in sys.stdin:
        if line.strip() == "DONE":
            break
    flag.set()  # DONE or the orchestrator went away


def _emit(kind: str, payload=None) -> None:
    sys.stdout.write(kind + ("" if payload is None else " " + json.dumps(payload)) + "\n")
    sys.stdout.flush()


def run_wamp(cfg: dict, tally: Tally, done: threading.Event) -> None:
    """An anonymous WebSocket session (what a browser gets) subscribed to a chat.room.* topic."""
    from switchboard.router.client import Client

    with Client(cfg["ws_url"], cfg["realm"]) as client:
        sub = client.subscribe(cfg["topic"])
        _emit("READY")
        deadline = None
        while not tally.complete:
            if done.is_set() and deadline is None:
                deadline = time.monotonic() + cfg["drain_timeout"]
            if deadline is not None and time.monotonic() > deadline:
                break
            try:
                event = sub.events.get(timeout=0.2)
            except queue.Empty:
                continue
            tally.add(event.args[0] if event.args else None)
            while True:  # drain what is already queued without the timeout machinery
                try:
                    event = sub.events.get_nowait()
                except queue.Empty:
                    break
                tally.add(event.args[0] if event.args else None)


def run_channels(cfg: dict, tally: Tally, done: threading.Event) -> None:
    """A channel added to the group and drained by `receive`, as a consumer's channel would be."""
    from bench.djangosetup import configure

    configure(cfg)
    from channels.layers import get_channel_layer

    async def main():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(cfg["group"], channel)
        _emit("READY")

        async def drain():
            while True:
                message = await layer.receive(channel)
                tally.add(message.get("data"))

        task = asyncio.ensure_future(drain())
        deadline = None
        while not tally.complete and not task.done():
            if done.is_set() and deadline is None:
                deadline = time.monotonic() + cfg["drain_timeout"]
            if deadline is not None and time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        if task.done() and task.exception():
            raise task.exception()
        # Report and leave here, without tearing the layer down: cancelling the pending receive makes
        # channels_redis print clean-up tracebacks, and this Redis and group are thrown away anyway.
        _emit("RESULT", tally.result())
        sys.stderr.flush()
        os._exit(0)

    asyncio.run(main())


def main() -> int:
    cfg = json.loads(sys.argv[1])
    if cfg.get("cpu") is not None:
        os.sched_setaffinity(0, {cfg["cpu"]})
    tally = Tally(cfg["events"])
    done = threading.Event()
    threading.Thread(target=_stdin_done, args=(done,), daemon=True).start()
    (run_wamp if cfg["receiver"] == "wamp" else run_channels)(cfg, tally, done)
    _emit("RESULT", tally.result())
    return 0


if __name__ == "__main__":
    sys.exit(main())

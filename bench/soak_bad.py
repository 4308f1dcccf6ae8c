"""The soak's bad clients, each kind from a loopback address of its own so that the hub's per-address
limits apply to it (they were raised for 127.0.0.1 only): slow consumers (127.0.0.2), a flood of
malformed connections (127.0.0.3) and session churn (127.0.0.4), all for `duration` seconds, then
gone. `python -m bench.soak_bad '<json config>'`; prints `RESULT <json>`.

- A slow consumer subscribes to the fan-out and the bulk topic, then never reads again, but sends a
  frame every 2 s (which keeps Autobahn's auto-ping from timing it out): only the send buffer limit
  can drop it. A send that fails means the hub dropped it.
- A malformed connection sends one kind of bad input (MALFORMED) and waits at most `timeout` for the
  hub to answer or close; how each ended is counted by kind.
- A churning session joins, subscribes, says GOODBYE and closes.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter

import aiohttp
import msgpack
import uvloop

from bench.peers_loadgen import WampMsgpack, cpu_s, process_config
from bench.soak_wire import Closed, Conn, frame

SLOW_ADDRESS, MALFORMED_ADDRESS, CHURN_ADDRESS = "127.0.0.2", "127.0.0.3", "127.0.0.4"
#: a slow consumer's frame every this many seconds (as in the report that led to the send buffer limit)
SLOW_FRAME_EVERY = 2.0
#: at most this many malformed connections open at once (more are counted as skipped)
MALFORMED_IN_FLIGHT = 400
#: a churning session's whole life, at most
CHURN_TIMEOUT = 10.0
#: chunks of an oversized chunked body: 20 x 64 KiB, past the 1 MiB default limit
CHUNK, CHUNKS = b"x" * 65536, 20


def _http(request: str) -> bytes:
    return request.replace("\n", "\r\n").encode()


#: kind -> (how it is sent, what): "ws" kinds upgrade to WAMP-over-JSON first, then send one frame
#: (opcode, payload); "raw" kinds send bytes instead of a valid HTTP request
MALFORMED = {
    "reserved_opcode": ("ws", (3, b"xx")),
    "not_json": ("ws", (1, b"not json")),
    "deep_json": ("ws", (1, b"[" * 100_000)),
    "bad_uri_hello": ("ws", (1, b'[1, "bad realm!", {}]')),
    "garbage_request_line": ("raw", b"GARBAGE / \r\n\r\n"),
    "upgrade_without_key": (
        "raw",
        _http("GET /ws HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Version: 13\n\n"),
    ),
    "random_bytes": ("raw", None),  # 200 random bytes, no line end
    "body_announced_too_large": (
        "raw",
        _http(
            "POST /bridge/publish HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: 99999999999\n\n{}"
        ),
    ),
    "body_chunked_too_large": (
        "chunked",
        _http("POST /bridge/publish HTTP/1.1\nHost: x\nContent-Type: application/json\nTransfer-Encoding: chunked\n\n"),
    ),
}


def refused(outcome: str) -> bool:
    """Whether the hub turned the connection away: an error status, a close code, or a close."""
    return outcome.startswith(("close ", "http 4", "http 5", "closed"))


async def _answer(conn: Conn) -> str:
    """How the hub answered a raw request: its status, or a close without one."""
    try:
        data = await conn.read_any()
    except (ConnectionResetError, BrokenPipeError):
        return "closed, no answer"
    if not data:
        return "closed, no answer"
    parts = data.split(b" ", 2)
    return f"http {parts[1].decode('latin-1')}" if data.startswith(b"HTTP/") and len(parts) > 1 else "answered"


async def _ws_bad(conn: Conn, host: str, port: int, opcode: int, payload: bytes) -> str:
    try:
        await conn.upgrade(host, port, "json")
    except Closed as e:
        return f"http {e.reason.split(' ')[1]}" if e.reason.startswith("HTTP/") else "closed, no answer"
    except (ConnectionResetError, BrokenPipeError):
        return "closed, no answer"
    try:
        await conn.send(frame(payload, opcode))
        while True:
            await conn.recv_frame()
    except Closed as e:
        return f"close {e.code}" if e.code else "closed"
    except (ConnectionResetError, BrokenPipeError):
        return "closed"


async def _chunked(conn: Conn, head: bytes) -> str:
    try:
        await conn.send(head)
        for _ in range(CHUNKS):
            await conn.send(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
    except (ConnectionResetError, BrokenPipeError):
        pass  # the hub answered and closed while we were still sending
    return await _answer(conn)


async def malformed_one(kind: str, host: str, port: int, timeout: float) -> str:
    how, what = MALFORMED[kind]
    try:
        conn = await asyncio.wait_for(Conn.open(MALFORMED_ADDRESS, host, port), timeout)
    except ConnectionResetError:  # accepted and aborted at once (the per-address limits) before connect returned
        return "closed, no answer"
    except (OSError, asyncio.TimeoutError) as e:
        return f"connect failed ({type(e).__name__})"
    try:
        if how == "ws":
            work = _ws_bad(conn, host, port, *what)
        elif how == "chunked":
            work = _chunked(conn, what)
        else:

            async def raw():
                try:
                    await conn.send(what if what is not None else os.urandom(200).replace(b"\n", b"."))
                except (ConnectionResetError, BrokenPipeError):
                    return "closed, no answer"
                return await _answer(conn)

            work = raw()
        return await asyncio.wait_for(work, timeout)
    except asyncio.TimeoutError:
        return f"held open (the client gave up after {timeout:g} s)"
    finally:
        conn.close()


async def slow_consumer(cfg: dict, t0: float, stop: asyncio.Event) -> dict:
    """Join, subscribe to both topics, then only send a frame every SLOW_FRAME_EVERY seconds."""
    host, port = cfg["host"], cfg["port"]
    rec: dict = {
        "started_s": round(time.monotonic() - t0, 1),
        "subscribed_s": None,
        "dropped_s": None,
        "frames_sent": 0,
        "error": None,
    }
    conn = None
    try:
        conn = await Conn.open(SLOW_ADDRESS, host, port, rcvbuf=4096)
        await asyncio.wait_for(conn.upgrade(host, port, "msgpack"), 10)
        await conn.send(frame(msgpack.packb([1, cfg["realm"], {"roles": {"subscriber": {}, "publisher": {}}}]), 2))
        if msgpack.unpackb(await asyncio.wait_for(conn.recv_frame(), 10))[0] != 2:
            raise RuntimeError("no WELCOME")
        for request, topic in enumerate((cfg["topic"], cfg["bulk_topic"]), 1):
            await conn.send(frame(msgpack.packb([32, request, {}, topic]), 2))
        subscribed = 0
        while subscribed < 2:  # events may come between the two answers
            subscribed += msgpack.unpackb(await asyncio.wait_for(conn.recv_frame(), 10))[0] == 33
        rec["subscribed_s"] = round(time.monotonic() - t0, 1)
    except Exception as e:
        rec["error"] = f"{type(e).__name__}: {e}"[:200]
        if conn:
            conn.close()
        return rec
    request = 100
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), SLOW_FRAME_EVERY)
            break
        except asyncio.TimeoutError:
            pass
        request += 1
        try:  # an unacknowledged PUBLISH nobody receives: traffic from the client, nothing back
            await conn.send(frame(msgpack.packb([16, request, {}, cfg["noise_topic"], []]), 2))
            rec["frames_sent"] += 1
        except OSError:  # reset or broken pipe: the hub aborted the connection
            rec["dropped_s"] = round(time.monotonic() - t0, 1)
            break
    conn.close()
    return rec


async def churn_one(proto: WampMsgpack, session: aiohttp.ClientSession) -> str:
    ws = await proto.open(session)
    try:
        await proto.subscribe(ws)
        await ws.send_bytes(msgpack.packb([6, {}, "wamp.close.normal"]))
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY and msgpack.unpackb(msg.data)[0] == 6:
                return "ok"
        return "closed before GOODBYE"
    finally:
        await ws.close()


async def paced(rate: float, duration: float, start_one, t0: float) -> int:
    """Call start_one() rate times a second for duration seconds (the k-th at t0 + k / rate)."""
    k = 0
    while True:
        due = t0 + k / rate
        if due - t0 >= duration:
            return k
        if due > time.monotonic():
            await asyncio.sleep(due - time.monotonic())
        start_one()
        k += 1


async def bad_clients(cfg: dict) -> dict:
    host, port, duration = cfg["host"], cfg["port"], cfg["duration"]
    t0, cpu0 = time.monotonic(), cpu_s()
    stop = asyncio.Event()
    tasks: list[asyncio.Task] = []
    malformed: dict[str, Counter] = {kind: Counter() for kind in MALFORMED}
    kinds = list(MALFORMED)
    state = {"in_flight": 0, "skipped": 0, "next": 0}
    churn = Counter()
    proto = WampMsgpack({"url": cfg["url"], "realm": cfg["realm"], "topic": cfg["topic"]})
    churn_session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, local_addr=(CHURN_ADDRESS, 0), force_close=True),
        timeout=aiohttp.ClientTimeout(total=None, connect=CHURN_TIMEOUT),
    )

    async def one_malformed(kind: str):
        try:
            malformed[kind][await malformed_one(kind, host, port, cfg["malformed_timeout"])] += 1
        finally:
            state["in_flight"] -= 1

    def start_malformed():
        if state["in_flight"] >= MALFORMED_IN_FLIGHT:
            state["skipped"] += 1
            return
        kind = kinds[state["next"] % len(kinds)]
        state["next"] += 1
        state["in_flight"] += 1
        tasks.append(asyncio.ensure_future(one_malformed(kind)))

    async def one_churn():
        try:
            churn[await asyncio.wait_for(churn_one(proto, churn_session), CHURN_TIMEOUT)] += 1
        except Exception as e:
            churn[f"{type(e).__name__}: {e}"[:120]] += 1

    slow_tasks = []

    def start_slow():
        slow_tasks.append(asyncio.ensure_future(slow_consumer(cfg, t0, stop)))

    # new connections stop early enough for the last to end within `duration`: every bad client is gone
    # when the window ends, and the window is as long as the clean phase's
    launch_s = max(duration / 2, duration - cfg["malformed_timeout"] - 1)
    schedules = [
        paced(cfg["malformed_rate"], launch_s, start_malformed, t0),
        paced(cfg["churn_rate"], launch_s, lambda: tasks.append(asyncio.ensure_future(one_churn())), t0),
    ]
    if cfg["slow_consumers"]:
        schedules.append(
            paced(1 / cfg["slow_interval"], min(launch_s, cfg["slow_consumers"] * cfg["slow_interval"]), start_slow, t0)
        )
    await asyncio.gather(*schedules)
    launched_s = time.monotonic() - t0
    await asyncio.sleep(max(0.0, t0 + duration - time.monotonic()))
    stop.set()  # slow consumers still connected now were never dropped
    done, pending = await asyncio.wait(tasks + slow_tasks, timeout=cfg["malformed_timeout"] + CHURN_TIMEOUT + 5)
    for task in pending:
        task.cancel()
    await churn_session.close()
    slow = [t.result() for t in slow_tasks if t in done and not t.cancelled()]
    wall = time.monotonic() - t0
    outcomes = {kind: dict(c) for kind, c in malformed.items()}
    return {
        "duration_s": round(wall, 2),
        "launching_s": round(launched_s, 2),
        "slow_consumers": slow,
        "malformed": outcomes,
        "malformed_total": sum(sum(c.values()) for c in malformed.values()),
        "malformed_refused": sum(n for c in malformed.values() for o, n in c.items() if refused(o)),
        "malformed_skipped": state["skipped"],
        "churn": dict(churn),
        "churn_ok": churn["ok"],
        "churn_total": sum(churn.values()),
        "unfinished_tasks": len(pending),
        "cpu_share": round((cpu_s() - cpu0) / wall, 3),
    }


def main() -> None:
    cfg = process_config()
    result = uvloop.run(asyncio.wait_for(bad_clients(cfg), cfg["duration"] + 120))
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

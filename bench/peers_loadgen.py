"""The one load generator of bench.peers: an asyncio process (aiohttp WebSocket client, uvloop's event
loop) speaking each system's protocol directly. `python -m bench.peers_loadgen '<json config>'`;
prints `RESULT <json>`.

Workloads: fanout (N subscribers + 1 publisher, windowed), rpc (C callers, one call at a time
each), connections (K idle sessions, held until the orchestrator says DONE on stdin).
Latency of events: the publisher puts time.time_ns() in the payload, each subscriber subtracts it
from its own time.time_ns() (same machine clock, comparable across processes).
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import gc
import json
import os
import re
import resource
import sys
import time

import aiohttp
import msgpack
import uvloop

from bench.procstat import tree_cpu
from bench.stats import percentile

EVENT_RX = re.compile(r'"t": ?(\d+), ?"s": ?(\d+)')
DATA = (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)
CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR)


class ProtocolError(RuntimeError):
    pass


async def _recv(ws, proto, timeout: float = 30.0) -> str | bytes:
    """The next data message (text, or binary for WAMP msgpack), answering the protocol's pings."""
    while True:
        msg = await ws.receive(timeout)
        if msg.type in CLOSED:
            raise ProtocolError(f"connection closed during handshake ({msg.type}, {msg.data!r})")
        if msg.type in DATA:
            if proto.pong(ws, msg.data):
                continue
            return msg.data


def send(ws, data: str | bytes):
    return ws.send_bytes(data) if isinstance(data, bytes) else ws.send_str(data)


def json_event(data) -> tuple[int, int] | None:
    """(publisher's time_ns, sequence number) of an event as text, found without parsing the rest."""
    m = EVENT_RX.search(data)
    return (int(m.group(1)), int(m.group(2))) if m else None


class Protocol:
    """What every system's protocol shares: events as JSON text, no pings of its own to answer."""

    event = staticmethod(json_event)

    def pong(self, ws, text) -> bool:
        return False


#: the HELLO details of every WAMP session the load generator opens
WAMP_HELLO_DETAILS = {"roles": {"subscriber": {}, "publisher": {}, "caller": {}}}


class Wamp(Protocol):
    """Switchboard: WAMP v2, JSON serializer over WebSocket, anonymous session."""

    name = "wamp"

    def __init__(self, cfg):
        self.url, self.realm, self.topic = cfg["url"], cfg["realm"], cfg["topic"]
        #: the nodes of a cluster (bench.cluster): session k opens on urls[k % len(urls)]
        self.urls = cfg.get("urls") or [self.url]
        self.procedure = cfg.get("procedure") or "demo.add2"
        self.compress = cfg.get("compress") or 0
        self.req = self.opened = 0

    async def open(self, session):
        url = self.urls[self.opened % len(self.urls)]
        self.opened += 1
        ws = await session.ws_connect(
            url, protocols=("wamp.2.json",), max_msg_size=0, autoping=True, compress=self.compress
        )
        await ws.send_str(json.dumps([1, self.realm, WAMP_HELLO_DETAILS]))
        text = await _recv(ws, self)
        if not text.startswith("[2,"):
            raise ProtocolError(f"expected WELCOME, got {text[:200]}")
        return ws

    async def subscribe(self, ws):
        await ws.send_str(json.dumps([32, 1, {}, self.topic]))
        text = await _recv(ws, self)
        if not text.startswith("[33,"):
            raise ProtocolError(f"expected SUBSCRIBED, got {text[:200]}")

    def pub_text(self, payload: str) -> str:
        self.req += 1
        return f'[16,{self.req},{{}},"{self.topic}",[{payload}]]'

    def call_text(self, call_id: int) -> str:
        return f'[48,{call_id},{{}},"{self.procedure}",[1,2]]'

    def result_id(self, text: str) -> int | None:
        if text.startswith("[50,"):
            return int(text[4 : text.index(",", 4)])
        if text.startswith("[8,"):
            raise ProtocolError(f"call failed: {text[:200]}")
        return None


class WampMsgpack(Wamp):
    """Switchboard with the msgpack serializer (AutobahnJS and Python clients can choose it)."""

    name = "wamp_msgpack"

    async def open(self, session):
        ws = await session.ws_connect(
            self.url, protocols=("wamp.2.msgpack",), max_msg_size=0, autoping=True, compress=self.compress
        )
        await ws.send_bytes(msgpack.packb([1, self.realm, WAMP_HELLO_DETAILS]))
        msg = msgpack.unpackb(await _recv(ws, self))
        if msg[0] != 2:
            raise ProtocolError(f"expected WELCOME, got {msg!r:.200}")
        return ws

    async def subscribe(self, ws):
        await ws.send_bytes(msgpack.packb([32, 1, {}, self.topic]))
        msg = msgpack.unpackb(await _recv(ws, self))
        if msg[0] != 33:
            raise ProtocolError(f"expected SUBSCRIBED, got {msg!r:.200}")

    def pub_text(self, payload: str) -> bytes:
        self.req += 1
        return msgpack.packb([16, self.req, {}, self.topic, [json.loads(payload)]])

    def call_text(self, call_id: int) -> bytes:
        return msgpack.packb([48, call_id, {}, self.procedure, [1, 2]])

    def result_id(self, data: bytes) -> int | None:
        msg = msgpack.unpackb(data)
        if msg[0] == 50:
            return msg[1]
        if msg[0] == 8:
            raise ProtocolError(f"call failed: {msg!r:.200}")
        return None

    @staticmethod
    def event(data: bytes) -> tuple[int, int] | None:
        msg = msgpack.unpackb(data)
        return (msg[4][0]["t"], msg[4][0]["s"]) if msg[0] == 36 else None


class SocketIO(Protocol):
    """python-socketio: Engine.IO v4 over WebSocket only (no polling), Socket.IO v5 packets."""

    name = "socketio"

    def __init__(self, cfg):
        self.url = cfg["url"].rstrip("/") + "/socket.io/?EIO=4&transport=websocket"

    async def open(self, session):
        ws = await session.ws_connect(self.url, max_msg_size=0, autoping=True)
        text = await _recv(ws, self)
        if not text.startswith("0"):
            raise ProtocolError(f"expected engine.io OPEN, got {text[:200]}")
        await ws.send_str("40")
        text = await _recv(ws, self)
        if not text.startswith("40"):
            raise ProtocolError(f"expected socket.io CONNECT, got {text[:200]}")
        return ws

    async def subscribe(self, ws):
        await ws.send_str('420["sub"]')
        text = await _recv(ws, self)
        if not text.startswith("430"):
            raise ProtocolError(f"expected the ack of sub, got {text[:200]}")

    def pub_text(self, payload: str) -> str:
        return '42["pub",' + payload + "]"

    def call_text(self, call_id: int) -> str:
        return f'42{call_id}["add2",1,2]'

    def result_id(self, text: str) -> int | None:
        if text.startswith("43"):
            return int(text[2 : text.index("[")])
        return None

    def pong(self, ws, text) -> bool:
        if text == "2":  # engine.io ping from the server: the client must answer or be dropped
            asyncio.ensure_future(ws.send_str("3"))
            return True
        return False


class Plain(Protocol):
    """The ceiling server and the Channels consumer: S / P<payload> / C<id>:a,b -> R<id>:sum."""

    name = "plain"

    def __init__(self, cfg):
        self.url = cfg["url"]

    async def open(self, session):
        return await session.ws_connect(self.url, max_msg_size=0, autoping=True)

    async def subscribe(self, ws):
        await ws.send_str("S")
        text = await _recv(ws, self)
        if text != "ok":
            raise ProtocolError(f"expected ok, got {text[:200]}")

    def pub_text(self, payload: str) -> str:
        return "P" + payload

    def call_text(self, call_id: int) -> str:
        return f"C{call_id}:1,2"

    def result_id(self, text: str) -> int | None:
        if text.startswith("R"):
            return int(text[1 : text.index(":")])
        return None


PROTOCOLS = {"wamp": Wamp, "wamp_msgpack": WampMsgpack, "socketio": SocketIO, "plain": Plain}


def payload_text(t_ns: int, seq: int, size: int) -> str:
    head = f'{{"t":{t_ns},"s":{seq},"p":"'
    return head + "x" * max(0, size - len(head) - 2) + '"}'


@contextlib.contextmanager
def no_gc_pauses(enabled: bool = True):
    """No garbage collection in the load generator while it measures latency: a full pass over its
    connections stops its event loop for 20-30 ms (seen with gc.callbacks), which would show up as the
    server's latency. A run lasts seconds; the process exits after it."""
    if enabled:
        gc.disable()
    try:
        yield
    finally:
        gc.enable()


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def lat_summary(values_ns) -> dict:
    ms = sorted(v / 1e6 for v in values_ns)
    pick = lambda q: None if not ms else round(percentile(ms, q), 3)  # noqa: E731
    return {
        "p50": pick(50),
        "p90": pick(90),
        "p99": pick(99),
        "max": round(ms[-1], 3) if ms else None,
        "count": len(ms),
    }


async def open_many(
    proto, sessions, count: int, parallel: int, subscribe: bool, on_open=None
) -> tuple[list, list, int]:
    """Open `count` sessions (round-robin over `sessions`, one per source address), `parallel` at a time;
    `on_open(ws)` as soon as each is open."""
    sem = asyncio.Semaphore(parallel)
    out: list = [None] * count
    errors: list[str] = []

    async def one(i):
        async with sem:
            try:
                ws = await proto.open(sessions[i % len(sessions)])
                if subscribe:
                    await proto.subscribe(ws)
                out[i] = ws
                if on_open is not None:
                    on_open(ws)
            except Exception as e:  # counted, reported
                errors.append(f"{type(e).__name__}: {e}"[:200])

    await asyncio.gather(*(one(i) for i in range(count)))
    return [w for w in out if w is not None], errors, len(errors)


def make_sessions(n_addresses: int) -> list[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=None, connect=30, sock_connect=30)
    return [
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, local_addr=(f"127.0.0.{i + 1}", 0), force_close=True),
            timeout=timeout,
        )
        for i in range(n_addresses)
    ]


async def close_all(sockets, sessions) -> None:
    for ws in sockets:
        ws._response.connection and ws._response.connection.transport and ws._response.connection.transport.abort()
    await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)


async def drain(ws, proto, on_text=None) -> None:
    """Read a connection until it closes: answer pings (aiohttp does WebSocket pings itself)."""
    try:
        async for msg in ws:
            if msg.type in DATA and not proto.pong(ws, msg.data) and on_text is not None:
                on_text(msg.data)
    except Exception:
        pass


async def fanout(cfg: dict, proto) -> dict:
    """Warm-up; an unloaded phase (one event in flight: the latency of a lone event); the saturating
    phase (`window` events in flight: throughput, and latency under that load); then a paced phase at
    `paced_fraction` of the saturating phase's event rate (latency at a sustainable load)."""
    n, size, window = cfg["subscribers"], cfg["payload_bytes"], cfg["window"]
    warmup, stall = cfg["warmup"], cfg["stall_timeout"]
    # (name, events in flight at most, events at most, seconds at most, paced)
    phases = [
        ("warmup", 2, warmup, 60.0, False),
        ("unloaded", 1, cfg["unloaded_events"], cfg["unloaded_seconds"], False),
        ("loaded", window, cfg["events"], cfg["seconds"], False),
    ]
    if cfg.get("paced_seconds"):
        phases.append(("paced", window, 10**9, cfg["paced_seconds"], True))
    sessions = make_sessions(1)
    t0 = time.monotonic()
    subs, errors, failed = await open_many(proto, sessions, n, 50, subscribe=True)
    publisher = await proto.open(sessions[0])
    setup_s = time.monotonic() - t0
    if failed:
        await close_all(subs + [publisher], sessions)
        return {"error": f"{failed} of {n} subscribers failed: {errors[:3]}"}
    need = len(subs)
    counts: dict[int, int] = {}
    phase_of: dict[int, int] = {}  # phase index of each sequence number
    lats = [array.array("q") for _ in phases]
    got = [0] * len(phases)
    last = [0] * len(phases)
    state = {"completed": 0, "bad": 0}
    progress = asyncio.Event()

    def on_event(data):
        fields = proto.event(data)
        if fields is None:
            state["bad"] += 1
            return
        now = time.time_ns()
        sent_ns, seq = fields
        c = counts.get(seq, 0) + 1
        counts[seq] = c
        ph = phase_of[seq]
        lats[ph].append(now - sent_ns)
        got[ph] += 1
        last[ph] = now
        if c == need:
            del counts[seq]
            state["completed"] += 1
            progress.set()

    async def wait_completed(target: int) -> bool:
        while state["completed"] < target:
            progress.clear()
            try:
                await asyncio.wait_for(progress.wait(), stall)
            except asyncio.TimeoutError:
                return False
        return True

    readers = [asyncio.ensure_future(drain(ws, proto, on_event)) for ws in subs]
    readers.append(asyncio.ensure_future(drain(publisher, proto)))
    seq, stalled, out = 0, False, {}
    for ph, (name, win, max_events, seconds, paced) in enumerate(phases):
        if not await wait_completed(seq):  # the previous phase fully delivered first
            stalled = True
            break
        rate = None
        if paced:
            rate = (out.get("loaded") or {}).get("events_per_s")
            if not rate:
                break
            rate *= cfg["paced_fraction"]
        first_ns, cpu0, wall0 = time.time_ns(), cpu_s(), time.monotonic()
        srv0 = tree_cpu(cfg.get("server_pids"))
        deadline, start_seq = wall0 + seconds, seq
        while seq - start_seq < max_events and time.monotonic() < deadline:
            if rate:  # pacing: the next event is due at wall0 + k / rate
                due = wall0 + (seq - start_seq) / rate
                if due > time.monotonic():
                    await asyncio.sleep(due - time.monotonic())
            if seq - state["completed"] >= win and not await wait_completed(seq - win + 1):
                stalled = True
                break
            phase_of[seq] = ph
            await send(publisher, proto.pub_text(payload_text(time.time_ns(), seq, size)))
            seq += 1
        if not stalled and not await wait_completed(seq):
            stalled = True
        wall, cpu = time.monotonic() - wall0, cpu_s() - cpu0
        srv = tree_cpu(cfg.get("server_pids")) - srv0
        sent = seq - start_seq
        span_s = (last[ph] - first_ns) / 1e9 if last[ph] else None
        out[name] = {
            "events_sent": sent,
            "expected": sent * need,
            "delivered": got[ph],
            "lost": sent * need - got[ph],
            "window": win,
            "span_s": round(span_s, 3) if span_s else None,
            "deliveries_per_s": round(got[ph] / span_s) if span_s else None,
            "events_per_s": round(sent / span_s, 1) if span_s else None,
            "target_events_per_s": round(rate, 1) if rate else None,
            "latency_ms": lat_summary(lats[ph]),
            "loadgen_cpu_s": round(cpu, 3),
            "loadgen_cpu_share": round(cpu / wall, 3) if wall > 0 else None,
            "server_cpu_share": round(srv / wall, 3) if wall > 0 and cfg.get("server_pids") else None,
        }
        if stalled:
            break
    for r in readers:
        r.cancel()
    await close_all(subs + [publisher], sessions)
    loaded = out.get("loaded") or {"error": "stalled before the measured phase", "latency_ms": {}}
    return {
        **loaded,
        "subscribers": need,
        "setup_s": round(setup_s, 2),
        "stalled": stalled,
        "unparsed": state["bad"],
        "unloaded": out.get("unloaded"),
        "paced": out.get("paced"),
        "warmup": out.get("warmup"),
    }


async def rpc(cfg: dict, proto) -> dict:
    c, seconds = cfg["concurrency"], cfg["seconds"]
    sessions = make_sessions(1)
    callers, errors, failed = await open_many(proto, sessions, c, 50, subscribe=False)
    if failed:
        await close_all(callers, sessions)
        return {"error": f"{failed} of {c} callers failed: {errors[:3]}"}
    lat = array.array("q")
    state = {"measure": False, "stop": False, "calls": 0, "errors": 0}

    async def caller(ws, base):
        i = base
        try:
            while not state["stop"]:
                i += 1
                t = time.perf_counter_ns()
                await send(ws, proto.call_text(i))
                while True:
                    text = await _recv(ws, proto, timeout=30)
                    if proto.result_id(text) == i:
                        break
                if state["measure"]:
                    lat.append(time.perf_counter_ns() - t)
                    state["calls"] += 1
        except Exception as e:
            state["errors"] += 1
            state["error"] = f"{type(e).__name__}: {e}"[:200]

    tasks = [asyncio.ensure_future(caller(ws, k * 10_000_000)) for k, ws in enumerate(callers)]
    await asyncio.sleep(0.5)  # warm-up
    state["measure"] = True
    cpu0, wall0 = cpu_s(), time.monotonic()
    await asyncio.sleep(seconds)
    state["measure"] = False
    wall, cpu = time.monotonic() - wall0, cpu_s() - cpu0
    state["stop"] = True
    await asyncio.wait(tasks, timeout=30)
    await close_all(callers, sessions)
    return {
        "concurrency": c,
        "calls": state["calls"],
        "seconds": round(wall, 3),
        "calls_per_s": round(state["calls"] / wall, 1),
        "latency_ms": lat_summary(lat),
        "errors": state["errors"],
        "last_error": state.get("error"),
        "loadgen_cpu_s": round(cpu, 3),
        "loadgen_cpu_share": round(cpu / wall, 3),
    }


async def connections(cfg: dict, proto) -> dict:
    """Open K sessions and hold them. Each is read from the moment it opens, as a browser would: a
    server that pings its clients (Crossbar every 5 s) drops a session whose pongs do not come, and
    opening 10,000 takes longer than that."""
    k, parallel = cfg["connections"], cfg["parallel"]
    sessions = make_sessions(max(1, -(-k // 5000)))  # a source address per 5000 sessions: ports never run short
    readers: list[asyncio.Future] = []

    def read(ws) -> None:
        readers.append(asyncio.ensure_future(drain(ws, proto)))

    def still_open() -> int:
        return sum(1 for r in readers if not r.done())  # a reader ends when its connection closes

    cpu0, t0, started = cpu_s(), time.monotonic(), time.time()
    sockets, errors, failed = await open_many(proto, sessions, k, parallel, subscribe=False, on_open=read)
    elapsed, cpu = time.monotonic() - t0, cpu_s() - cpu0
    result = {
        "requested": k,
        "opened": len(sockets),
        "failed": failed,
        "errors": sorted(set(errors))[:3],
        "seconds": round(elapsed, 3),
        "started_unix": started,  # when the first connect began: processes opening together line up on it
        "connects_per_s": round(len(sockets) / elapsed, 1),
        "source_addresses": len(sessions),
        "loadgen_cpu_s": round(cpu, 3),
        "loadgen_cpu_share": round(cpu / elapsed, 3),
        "open_when_opened": still_open(),
    }
    print("HOLDING " + json.dumps(result), flush=True)
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.readline), cfg.get("hold_timeout", 300))
    result["still_open_at_measurement"] = still_open()
    for r in readers:
        r.cancel()
    await close_all(sockets, sessions)
    return result


def process_config() -> dict:
    """A load generator process's set-up: its config (argv[1], JSON), its CPU, and every file
    descriptor the machine allows (thousands of sockets)."""
    cfg = json.loads(sys.argv[1])
    if cfg.get("cpu") is not None:
        os.sched_setaffinity(0, {cfg["cpu"]})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return cfg


def main() -> None:
    cfg = process_config()
    proto = PROTOCOLS[cfg["protocol"]](cfg)
    work = {"fanout": fanout, "rpc": rpc, "connections": connections}[cfg["workload"]]
    with no_gc_pauses(cfg["workload"] != "connections"):
        result = uvloop.run(asyncio.wait_for(work(cfg, proto), cfg.get("timeout", 300)))
    result["affinity"] = sorted(os.sched_getaffinity(0))
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

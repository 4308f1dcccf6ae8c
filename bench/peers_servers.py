"""The servers bench.peers compares, each started on a free loopback port and stopped again:
Switchboard (a real Crossbar node, switchboard.router.testing.Hub), the Autobahn ceiling, python-socketio and
Django Channels (daphne + channels_redis + redis-server). Every process inherits the orchestrator's
CPU affinity (the server CPU), except the hub of a variant that asks for every CPU (`all_cpus`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psutil
from switchboard.bridge.limits import lifted_for_load
from switchboard.router import settings as S
from switchboard.router.node import layout
from switchboard.router.node.process import free_port, port_open
from switchboard.router.testing import redis_server

ROOT = Path(__file__).resolve().parent.parent
#: the load generator opens every connection from 127.0.0.1 (10,000 of them, hundreds a second), and
#: one session calls or publishes thousands of times a second: limits far above that
LOADGEN_LIMITS = lifted_for_load()
BENCH_TOPIC = "bench.fanout"


@dataclass(frozen=True)
class Variant:
    """One way to run Switchboard's hub: what `make run` starts, or that with one setting changed."""

    short: str
    label: str
    loglevel: str = "info"
    env: dict = field(default_factory=dict)
    #: what the browser speaks: web/switchboard.js offers msgpack first, and the router takes it
    protocol: str = "wamp_msgpack"
    compress: int = 0
    config: Callable[[dict], None] | None = None
    #: run the connections workload (the variants that change nothing a connection costs skip it)
    connections: bool = True
    #: once started, the node and all its workers may run on every CPU of the machine, not only the
    #: server CPU they inherit (the load generator keeps its own)
    all_cpus: bool = False


def _chunked_dispatch(config: dict) -> None:
    S.router_worker(config)["realms"][0].setdefault("options", {})["event_dispatching_chunk_size"] = 1000


def _no_utf8_validation(config: dict) -> None:
    S.transport(config, S.WEB_TRANSPORT_ID)["paths"]["ws"]["options"]["validate_utf8"] = False


def _deflate(config: dict) -> None:
    S.transport(config, S.WEB_TRANSPORT_ID)["paths"]["ws"]["options"]["compression"] = {"deflate": {}}


def _asyncio_reactor(config: dict) -> None:
    """The router worker's reactor, through its environment (the node's own must stay: with
    CROSSBAR_REACTOR=asyncio for the node it stops with "reactor already installed", and Crossbar's
    config check refuses a worker option "reactor")."""
    S.router_worker(config).setdefault("options", {})["env"] = {
        "inherit": True,
        "vars": {"CROSSBAR_REACTOR": "asyncio"},
    }


def _demo_in_router(config: dict) -> None:
    """demo.add2 as a router component: in the router's process, no RawSocket hop, no second process."""
    S.move_into_router(config, "demo")


#: proxy workers in front of the router, all listening on the public port (the kernel spreads the
#: connections over them), so that WebSocket framing and (de)serialization leave the router's process
PROXY_WORKERS = 2


def _proxy_layout(config: dict) -> None:
    """The product's proxy layout (router/node/layout.py, SWITCHBOARD_PROXY_WORKERS) with
    PROXY_WORKERS proxies, the router's web transport on a free loopback port."""
    layout.with_proxies(config, PROXY_WORKERS, free_port())


#: Switchboard's hub as `make run` starts it (`switchboard`), and the settings the tuning run compares
#: with it, one change each (docs/benchmarks.md, "Tuning")
VARIANTS = {
    "switchboard": Variant(
        "Switchboard",
        "the `make run` hub: lazy log arguments, frozen startup heap, "
        "ready-made frames sent at the end of each turn, log level info "
        "(one worker log write per turn), browsers on msgpack",
    ),
    "sb_before": Variant(
        "Switchboard before tuning",
        "before tuning: Crossbar's eager debug-log arguments, "
        "startup heap in every full GC, Twisted's and Autobahn's own "
        "write paths, Crossbar's worker log path, JSON (AutobahnJS's "
        "first choice); fan-out and RPC",
        env={
            S.ENV_LAZY_LOG_ARGS: "0",
            S.ENV_GC_FREEZE: "0",
            S.ENV_TURN_FLUSH: "0",
            S.ENV_FAST_SEND: "0",
            S.ENV_WORKER_LOG: "0",
        },
        protocol="wamp",
        connections=False,
    ),
    "sb_json": Variant("Switchboard, JSON", "clients speak wamp.2.json", protocol="wamp"),
    "sb_eager_logs": Variant(
        "Switchboard, eager log args", "Crossbar's eager debug-log arguments", env={S.ENV_LAZY_LOG_ARGS: "0"}
    ),
    "sb_gc_unfrozen": Variant(
        "Switchboard, GC unfrozen",
        "nothing frozen: each worker's startup heap and sessions in every full garbage collection",
        env={S.ENV_GC_FREEZE: "0"},
        connections=False,
    ),
    "sb_gc_full_passes_off": Variant(
        "Switchboard, sessions unfrozen",
        "only the startup heap frozen: every full collection walks the sessions",
        env={S.ENV_GC_FULL_EVERY: "0"},
    ),
    "sb_turn_later": Variant(
        "Switchboard, writes a turn later",
        "Twisted's own write path: each socket sent after a writability poll",
        env={S.ENV_TURN_FLUSH: "0"},
    ),
    "sb_send_message": Variant(
        "Switchboard, sendMessage",
        "each WAMP message framed per peer by Autobahn's sendMessage",
        env={S.ENV_FAST_SEND: "0"},
    ),
    "sb_log_per_record": Variant(
        "Switchboard, log per record",
        "Crossbar's worker log path: a pipe write per record, connection chatter at info",
        env={S.ENV_WORKER_LOG: "0"},
    ),
    "sb_asyncio": Variant(
        "Switchboard, asyncio reactor",
        "the router worker on Twisted's asyncio reactor instead of epoll",
        config=_asyncio_reactor,
        connections=False,
    ),
    "sb_warn": Variant("Switchboard, log warn", "log level warn", loglevel="warn"),
    "sb_deflate": Variant("Switchboard, deflate", "permessage-deflate offered and used", compress=15, config=_deflate),
    "sb_no_utf8": Variant("Switchboard, no UTF-8 check", "validate_utf8 off", config=_no_utf8_validation),
    "sb_chunked": Variant(
        "Switchboard, chunked dispatch", "event_dispatching_chunk_size 1000", config=_chunked_dispatch
    ),
    "sb_unguarded": Variant(
        "Switchboard, unguarded",
        "without the guards against hostile clients (depth, "
        "value and rate checks, send buffer, HTTP body and "
        "per-address limits: docs/security.md)",
        env={S.ENV_GUARDS: "0"},
    ),
    "sb_no_metrics": Variant(
        "Switchboard, no metrics counting",
        "without the counting behind /metrics and the dashboard (SWITCHBOARD_METRICS=0: messages, calls, "
        "publications per subscription; /metrics still serves sessions, subscriptions and the bridge's requests)",
        env={S.ENV_METRICS: "0"},
        connections=False,
    ),
    "sb_inproc": Variant(
        "Switchboard, callee in router", "demo.add2 as a router component (no callee hop)", config=_demo_in_router
    ),
    "sb_two_cores": Variant(
        "Switchboard, two cores",
        "the hub may use both CPUs (the load generator's too), same workers",
        all_cpus=True,
        connections=False,
    ),
    "sb_proxy": Variant(
        "Switchboard, 2 proxies",
        f"both CPUs, and {PROXY_WORKERS} proxy workers in front of the router terminate the WebSockets",
        all_cpus=True,
        config=_proxy_layout,
    ),
}
PEERS = {
    "ceiling": ("ceiling (Autobahn)", "Ceiling: bare Autobahn/Twisted broadcast"),
    "socketio": ("python-socketio", "python-socketio 5 on aiohttp"),
    "channels": ("Channels", "Django Channels 4 (daphne + channels_redis + Redis)"),
}
LABELS = {**{k: v.label for k, v in VARIANTS.items()}, **{k: v[1] for k, v in PEERS.items()}}
SHORT = {**{k: v.short for k, v in VARIANTS.items()}, **{k: v[0] for k, v in PEERS.items()}}


def sb_config(variant: Variant) -> dict:
    """The committed config, plus one rule: anonymous sessions may publish and subscribe under `bench.`
    (the load generator publishes over the same WebSocket transport as its subscribers)."""
    config = S.load_config(S.CONFIG_FILE)
    worker = S.router_worker(config)
    anonymous = next(r for r in worker["realms"][0]["roles"] if r["name"] == "anonymous")
    anonymous["permissions"].append(
        {
            "uri": "bench.",
            "match": "prefix",
            "allow": {"call": False, "register": False, "publish": True, "subscribe": True},
            "disclose": {"caller": False, "publisher": False},
            "cache": True,
        }
    )
    if variant.config:
        variant.config(config)
    return config


class Server:
    protocol = "plain"
    path = "/"
    #: what rss_pids() measures, as the connections table names it
    rss_label = "server"

    def __init__(self, name: str, workdir: Path):
        self.name, self.workdir = name, workdir
        self.procs: list[subprocess.Popen] = []
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.path}"

    def loadgen_cfg(self) -> dict:
        return {"protocol": self.protocol, "url": self.url}

    def cpu_pids(self) -> list[int]:
        """Processes whose CPU time counts as the server's."""
        return [p.pid for p in self.procs]

    def rss_pids(self) -> list[int]:
        """Processes whose memory holds the sessions."""
        return [p.pid for p in self.procs]

    def _spawn(self, cmd: list[str], env: dict | None = None, name: str = "server") -> subprocess.Popen:
        log = open(self.workdir / f"{self.name}-{name}.log", "ab")
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def _wait_port(self, proc: subprocess.Popen, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not port_open("127.0.0.1", self.port):
            if proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {proc.returncode}; see {self.workdir}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not listen within {timeout}s")
            time.sleep(0.05)

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)


class Ceiling(Server):
    def start(self) -> None:
        self._wait_port(self._spawn([sys.executable, "-m", "bench.peers_ceiling", str(self.port)]))


class SocketIOServer(Server):
    protocol = "socketio"

    def start(self) -> None:
        self._wait_port(self._spawn([sys.executable, "-m", "bench.peers_socketio", str(self.port)]))


class ChannelsServer(Server):
    path = "/ws/"
    rss_label = "daphne (Redis not counted)"

    def start(self) -> None:
        self.redis = redis_server.RedisServer(self.workdir / "redis")
        self.redis.start(15)
        proc = self._spawn(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "bench.peers_channels_app:application",
            ],
            env={"BENCH_REDIS_PORT": str(self.redis.port), "PYTHONPATH": str(ROOT)},
            name="daphne",
        )
        self._wait_port(proc)

    def cpu_pids(self) -> list[int]:
        return [p.pid for p in self.procs] + [self.redis.pid]

    def stop(self) -> None:
        super().stop()
        if getattr(self, "redis", None):
            self.redis.stop()


class SwitchboardServer(Server):
    def __init__(self, name: str, workdir: Path):
        super().__init__(name, workdir)
        self.variant = VARIANTS[name]

    def start(self) -> None:
        from switchboard.router.testing.hub import Hub

        self.hub = Hub(
            self.workdir / self.name,
            with_components=True,
            loglevel=self.variant.loglevel,
            env={**LOADGEN_LIMITS, **self.variant.env},
            config=sb_config(self.variant),
        )
        self.hub.start()
        if self.variant.all_cpus:
            self.widen_affinity()

    def _tree(self) -> list[psutil.Process]:
        node = psutil.Process(self.hub.node.process.pid)
        return [node, *node.children(recursive=True)]

    def widen_affinity(self) -> None:
        """Let the node and every worker it started run on all CPUs (they inherited the server CPU).
        A worker Crossbar restarts later inherits the node's widened affinity."""
        for proc in self._tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.cpu_affinity([])  # psutil: every eligible CPU

    @property
    def url(self) -> str:
        return self.hub.url

    def loadgen_cfg(self) -> dict:
        return {
            "protocol": self.variant.protocol,
            "compress": self.variant.compress,
            "url": self.hub.url,
            "realm": self.hub.realm,
            "topic": BENCH_TOPIC,
        }

    def cpu_pids(self) -> list[int]:
        return [self.hub.node.process.pid]

    @property
    def rss_label(self) -> str:
        proxies = any(w["type"] == "proxy" for w in sb_config(self.variant)["workers"])
        return "Crossbar router and proxy workers" if proxies else "Crossbar router worker"

    def rss_pids(self) -> list[int]:
        """The router worker, the process that holds every WebSocket session, and the proxy workers in
        front of it, if any (each session is then held in a proxy and in the router)."""
        kinds = {w["id"]: w["type"] for w in sb_config(self.variant)["workers"]}
        pids = self.hub.node.worker_pids()  # workers are titled "switchboard-worker <id>" (router/node/process.py)
        routers = [pid for worker, pid in pids.items() if kinds.get(worker) == "router"]
        proxies = [pid for worker, pid in pids.items() if kinds.get(worker) == "proxy"]
        if not routers:
            raise RuntimeError(f"no Crossbar router worker found under the node process (workers: {sorted(pids)})")
        return routers + proxies

    def stop(self) -> None:
        if getattr(self, "hub", None):
            self.hub.stop()


def make(name: str, workdir: Path) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    if name in VARIANTS:
        return SwitchboardServer(name, workdir)
    return {"ceiling": Ceiling, "socketio": SocketIOServer, "channels": ChannelsServer}[name](name, workdir)


@contextlib.contextmanager
def running(name: str, workdir: Path):
    server = make(name, workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()

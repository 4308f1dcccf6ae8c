"""`switchboard cluster up`: a cluster of N nodes and its own Redis on loopback, to try and to test.

    switchboard cluster up --nodes 3 [--dir DIR] [--port P]

One durable redis-server (AOF, fsync every second; router/cluster/redis_server.py) and N `switchboard
run` processes, each with its own hub directory DIR/node<i> (so its own supervisor restarts it when
part of it dies), all with the same secrets (DIR/secrets.env, generated once), SWITCHBOARD_REDIS_URL
and SWITCHBOARD_WS_URLS (every node's WebSocket URL: the page fails over between them). Once every
node's /ready answers 200 it prints each node's URLs; Ctrl-C or SIGTERM stops the nodes, then Redis,
and a second one kills all of it at once. A lock on DIR/cluster.lock keeps a second cluster out of
DIR while one runs.

`plan` (which ports, which directories) is pure; `Cluster` does the processes.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from switchboard.router import settings as S
from switchboard.router.node.process import START_TIMEOUT, STOP_TIMEOUT, free_port, running_node_pid

DEFAULT_DIR = Path(".switchboard-cluster")
MAX_NODES = 16
LOCK_NAME = "cluster.lock"
#: seconds between two looks at a starting node's /ready
READY_POLL = 0.25
#: seconds a `switchboard run` gets to stop its node (it waits STOP_TIMEOUT for Crossbar, then kills it)
RUN_STOP_TIMEOUT = STOP_TIMEOUT + 10.0


class ClusterError(RuntimeError):
    """Why the cluster cannot start, in one line for its user."""


@dataclass(frozen=True)
class NodePlan:
    name: str  # node1, node2, ...
    home: Path  # its hub directory
    port: int  # web transport: page, /ws, /bridge, /ready
    backend_port: int  # RawSocket for its components
    router_web_port: int | None  # the router's own web port behind proxy workers; None without proxies

    def ports(self) -> list[tuple[int, str]]:
        named = [(self.port, "web"), (self.backend_port, "backend")]
        if self.router_web_port is not None:
            named.append((self.router_web_port, "router web"))
        return [(port, f"{self.name}'s {what} port") for port, what in named]


@dataclass(frozen=True)
class Plan:
    directory: Path
    nodes: list[NodePlan]
    redis_port: int
    consecutive: bool  # the ports follow --port; else free ones

    @property
    def secrets_file(self) -> Path:
        return self.directory / S.SECRETS_NAME

    def ports(self) -> list[tuple[int, str]]:
        return [p for node in self.nodes for p in node.ports()] + [(self.redis_port, "Redis's port")]


def plan(
    directory: Path, nodes: int, first_port: int | None = None, proxies: int = 0, free: Callable[[], int] = free_port
) -> Plan:
    """Where N nodes go. With `first_port` P: the web ports P..P+N-1, then the backend ports, then
    (with proxy workers) the routers' web ports, then Redis; without it, free ports."""
    if not 1 <= nodes <= MAX_NODES:
        raise ClusterError(f"--nodes {nodes}: a local cluster has 1 to {MAX_NODES} nodes")
    blocks = 3 if proxies else 2
    needed = blocks * nodes + 1
    if first_port is None:
        ports: list[int] = []
        while len(ports) < needed:
            port = free()
            if port not in ports:
                ports.append(port)
    else:
        if not 1024 <= first_port <= 65536 - needed:
            raise ClusterError(
                f"--port {first_port}: {nodes} nodes need {needed} ports from it, so 1024 to {65536 - needed}"
            )
        ports = list(range(first_port, first_port + needed))
    directory = Path(directory)
    planned = [
        NodePlan(
            name=f"node{i + 1}",
            home=directory / f"node{i + 1}",
            port=ports[i],
            backend_port=ports[nodes + i],
            router_web_port=ports[2 * nodes + i] if proxies else None,
        )
        for i in range(nodes)
    ]
    return Plan(directory=directory, nodes=planned, redis_port=ports[-1], consecutive=first_port is not None)


def node_env(base: dict, node: NodePlan, plan_: Plan, redis_url: str, ws_urls: list[str]) -> dict:
    """The environment of one node's `switchboard run`: `base` (this process's) with its directory,
    ports, the shared secrets file, the cluster's Redis and every node's WebSocket URL."""
    env = {
        **base,
        S.ENV_DIR: str(node.home),
        S.ENV_HOST: "127.0.0.1",
        S.ENV_PORT: str(node.port),
        S.ENV_BACKEND_PORT: str(node.backend_port),
        S.ENV_SECRETS_FILE: str(plan_.secrets_file),
        S.ENV_REDIS_URL: redis_url,
        S.ENV_WS_URLS: ",".join(ws_urls),
        # the plan's layout on every node, never each node measuring the machine they share (auto: none)
        S.ENV_PROXY_WORKERS: str(S.proxy_workers(base) or 0),
    }
    if node.router_web_port is not None:
        env[S.ENV_ROUTER_WEB_PORT] = str(node.router_web_port)
    return env


def url_table(rows: list[tuple[str, S.Settings]]) -> list[str]:
    """node, page, WebSocket and bridge URL of each node, in aligned columns under a header."""
    lines = [("node", "page", "WebSocket", "bridge")] + [(n, s.http_url, s.ws_url, s.bridge_url) for n, s in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    return ["  ".join([*(cell.ljust(w) for cell, w in zip(line[:3], widths)), line[3]]) for line in lines]


def port_taken(port: int) -> bool:
    """Something listens on 127.0.0.1:`port` (or holds it bound): what Crossbar's listen would fail on."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Twisted listens: TIME_WAIT is no conflict
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


class Stop(Exception):
    """Ctrl-C or SIGTERM: the first stops the cluster in order, a second kills what is left."""


def _raise_stop(signum, frame):
    raise Stop


class Cluster:
    """Runs the cluster `plan_` describes until Stop; `say` prints one of its lines."""

    def __init__(self, plan_: Plan, say: Callable[[str], None], log_format: str = S.LOG_FORMATS[0]):
        self.plan = plan_
        self.say = say
        self.log_format = log_format
        self.redis = None
        self.runs: dict[str, subprocess.Popen] = {}
        self.settings: dict[str, S.Settings] = {}
        self._lock = None

    # --- before anything starts ---------------------------------------------------------------
    def check(self) -> None:
        """Refuse, naming why, a machine without redis-server, a directory that holds a running
        cluster or hub, or a port in use."""
        from switchboard.router.cluster.redis_server import RedisMissing, find_binary

        try:
            find_binary()
        except RedisMissing as e:
            raise ClusterError(str(e)) from None
        directory = self.plan.directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = open(directory / LOCK_NAME, "a+", encoding="utf-8")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            self._lock.seek(0)
            holder = self._lock.read().strip() or "?"
            self._lock.close()
            raise ClusterError(
                f"{directory} holds a running cluster (pid {holder}): stop it (Ctrl-C where it runs, or "
                f"kill {holder}) or give this one another --dir"
            ) from None
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(f"{os.getpid()}\n")
        self._lock.flush()
        for node in self.plan.nodes:
            running = running_node_pid(node.home / S.NODE_DIR_NAME)
            if running is not None:
                raise ClusterError(f"a hub (pid {running}) runs in {node.home}: stop it first")
        for port, what in self.plan.ports():
            if port_taken(port):
                how = "pass another --port, or none for free ports" if self.plan.consecutive else "try again"
                raise ClusterError(f"port {port} ({what}) is already in use: {how}")

    # --- start --------------------------------------------------------------------------------
    def start(self) -> None:
        from switchboard.router.cluster.redis_server import RedisServer
        from switchboard.router.node.secrets import ensure_secrets

        plan_ = self.plan
        env = dict(os.environ)
        env.pop(S.ENV_DIR, None)
        for node in plan_.nodes:
            settings_env = node_env(env, node, plan_, "redis://127.0.0.1:1/0", [])
            try:
                self.settings[node.name] = S.Settings.from_env(settings_env)
            except S.SettingsError as e:
                raise ClusterError(str(e)) from None
        ws_urls = [self.settings[n.name].ws_url for n in plan_.nodes]
        _, created = ensure_secrets(plan_.secrets_file)  # once, before any node: they all take these
        self.redis = RedisServer(plan_.directory / "redis", durable=True, port=plan_.redis_port, own_session=True)
        where = f"from --port {plan_.nodes[0].port} on" if plan_.consecutive else "free ones (--port P to choose)"
        self.say(
            f"starting {len(plan_.nodes)} node{'s' if len(plan_.nodes) > 1 else ''} in {plan_.directory}: "
            f"ports {where}; "
            f"{'generated' if created else 'using'} the secrets in {plan_.secrets_file}; "
            f"Redis on 127.0.0.1:{plan_.redis_port} (append-only file synced every second, in {self.redis.workdir})"
        )
        try:
            self.redis.start()
        except RuntimeError as e:
            raise ClusterError(f"Redis did not start: {e}") from None
        for node in plan_.nodes:
            node.home.mkdir(parents=True, exist_ok=True)
            log = open(node.home / "run.log", "ab")
            try:
                self.runs[node.name] = subprocess.Popen(
                    [sys.executable, "-m", "switchboard.router", "run"],
                    env=node_env(env, node, plan_, self.redis.url, ws_urls),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches this process only, which stops the nodes in order
                )
            finally:
                log.close()

    def wait_ready(self, timeout: float = START_TIMEOUT + 30.0) -> None:
        """Block until every node's /ready answers 200, saying so once per node."""
        began = time.monotonic()
        waiting = {node.name: node for node in self.plan.nodes}
        while waiting:
            for name, node in list(waiting.items()):
                process = self.runs[name]
                if process.poll() is not None:
                    raise ClusterError(
                        f"{name} exited with code {process.returncode} before it was ready: see {node.home / 'run.log'}"
                    )
                if _ready(self.settings[name].ready_url):
                    del waiting[name]
                    self.say(
                        f"{name} ready in {time.monotonic() - began:.1f} s (pid {process.pid}, "
                        f"log {node.home / 'run.log'})"
                    )
            if not waiting:
                return
            if time.monotonic() - began > timeout:
                raise ClusterError(f"{', '.join(waiting)} not ready within {timeout:g} s: see their run.log")
            time.sleep(READY_POLL)  # polling /ready: an HTTP endpoint has no event to wait on

    def announce(self) -> None:
        for line in url_table([(node.name, self.settings[node.name]) for node in self.plan.nodes]):
            print(line, flush=True)
        self.say(
            f"cluster is up: {len(self.plan.nodes)} nodes on Redis {self.redis.url}, one set of secrets in "
            f"{self.plan.secrets_file}; a page fails over to another node when its own stops. Ctrl-C stops it all."
        )

    def watch(self) -> None:
        """Block until every node has exited (each `switchboard run` restarts its own node; one that
        gives up is said once), or Redis has; Stop ends it sooner."""
        from switchboard.router.node.supervisor import _wait_any

        alive = {process.pid: name for name, process in self.runs.items()}
        alive[self.redis.pid] = "redis"
        while any(name != "redis" for name in alive.values()):
            pid, name = _wait_any(alive)
            del alive[pid]
            if name == "redis":
                code = self.redis.process.wait()
                self.say(
                    f"Redis exited (code {code}; log {self.redis.log_path}): the nodes serve their own clients only"
                )
            else:
                code = self.runs[name].wait()
                self.say(f"{name} exited (code {code}): see {self.plan.directory / name / 'run.log'}")

    # --- stop ---------------------------------------------------------------------------------
    def stop(self) -> None:
        """Each node stops as on its own Ctrl-C (in parallel), then Redis. Stop meanwhile: kill()."""
        for process in self.runs.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # `switchboard run` stops its node in order on it
        deadline = time.monotonic() + RUN_STOP_TIMEOUT
        for process in self.runs.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        if any(process.poll() is None for process in self.runs.values()):
            self.kill()
            return
        if self.redis is not None:
            self.redis.stop()
        self.kill()  # anything still left (none, when every run stopped its node): no orphans

    def kill(self) -> None:
        """SIGKILL every process this cluster started (the nodes' whole process groups) and Redis."""
        import psutil  # installed with crossbar

        try:
            found = psutil.Process().children(recursive=True)
        except psutil.Error:
            found = []
        groups = set()
        for proc in found:
            try:
                groups.add(os.getpgid(proc.pid))
            except OSError:
                pass
        groups.discard(os.getpgrp())
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except OSError:
                pass
        for proc in found:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(found, timeout=10)

    def close(self) -> None:
        if self._lock is not None and not self._lock.closed:
            self._lock.close()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False  # not listening yet, or 503 while its components start


def up(directory: Path, nodes: int, first_port: int | None, say: Callable[[str], None]) -> int:
    """Run the cluster in the foreground: 0 when stopped, 1 when it could not start."""
    try:
        proxies = S.Settings.from_env({k: v for k, v in os.environ.items() if k != S.ENV_DIR}).proxy_workers
        cluster = Cluster(plan(Path(directory).resolve(), nodes, first_port, proxies), say)
    except (ClusterError, S.SettingsError) as e:
        say(str(e))
        return 1
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    code = 0
    try:
        try:
            cluster.check()
            cluster.start()
            cluster.wait_ready()
            cluster.announce()
            cluster.watch()
            code = 1  # every node gave up
        except ClusterError as e:
            say(str(e))
            code = 1
        except Stop:
            say("stopping the nodes, then Redis (Ctrl-C again kills them at once)")
        except BaseException:  # a bug: leave no node or Redis running behind the traceback
            cluster.kill()
            raise
        try:
            cluster.stop()
        except Stop:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            cluster.kill()
            say("killed.")
            return 1
        say("stopped." if code == 0 else "stopped what had started.")
        return code
    finally:
        cluster.close()

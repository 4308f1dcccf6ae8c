"""Start, watch and stop a Crossbar node running Switchboard's config.

`render_config` is pure: it takes the committed `.crossbar/config.json` and the settings and returns
the config a node actually runs (ports, absolute paths).  `Node` owns one `crossbar start` process in
a node directory of its own, so `make run` and every test hub run the very same config.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Mapping

from switchboard.bridge import limits
from switchboard.router import settings as S
from switchboard.router.node import layout
from switchboard.router.node.secrets import ensure_secrets

START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
#: Seconds to wait for the processes of a SIGKILLed node to be gone (their ports released).
KILL_TIMEOUT = 10.0
#: Native workers (router, container, proxy) name themselves "<WORKER_TITLE> <worker id>" in `ps`
#: (Crossbar's "title" worker option), so a supervisor or a test can tell which process is which.
WORKER_TITLE = "switchboard-worker"
NATIVE_WORKER_TYPES = ("router", "container", "proxy")
#: the HTTP bridge's resource service (router/services/bridge_http.py)
BRIDGE_RESOURCE = "switchboard.router.services.bridge_http.create"


#: Crossbar's broker dispatches an event to a subscription's receivers in chunks (100 by default),
#: the later ones a reactor turn later; but its chunks refer to the dispatch loop's variables, not
#: their own: when the topic matches another subscription too (history's prefix on chat.room.,
#: a cluster node's tap), the later chunks of the first go out as the last subscription's EVENT,
#: under a subscription id their receivers never had (tests/integration/test_fanout_chunks.py;
#: Crossbar 26.10.1, broker.py `_notify_some`). One chunk per subscription, whatever its size: the
#: loop never moves on under a pending chunk. The cost: a fan-out to N subscribers runs in one reactor
#: turn instead of N/100 (docs/benchmarks.md measures it).
DISPATCH_IN_ONE_CHUNK = 2**31 - 1


def render_config(
    config: dict,
    settings: S.Settings,
    *,
    with_components: bool = True,
    data_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> dict:
    """The node config for `settings`: listening addresses, absolute paths, optional components.

    Relative data files (extra "database") of router components (history, the ticket authenticator)
    and of resource services (the HTTP bridge) go to `data_dir`. With `settings.tls`, the web transport
    (or the proxies' in front of it) serves https/wss. The web transport gets `/health`,
    `/ready` and `/metrics`.
    Every WebSocket and RawSocket transport takes the message size limit of `env` (the environment the
    node runs with; default: this process's), SWITCHBOARD_MAX_MESSAGE_SIZE in bridge/limits.py, and
    every web transport its HTTP idle timeout, SWITCHBOARD_HTTP_TIMEOUT. `/info` lists the cluster's
    WebSocket URLs of `env`'s SWITCHBOARD_WS_URLS, if any, as `ws_urls`.
    """
    config = copy.deepcopy(config)
    web = S.transport(config, S.WEB_TRANSPORT_ID)
    # browsers connect to the router's web transport, or, where proxy workers front the router, to the
    # proxies' transports of the same id (the router's then keeps the endpoint its config gives it)
    fronts = [
        t
        for w in config["workers"]
        if w["type"] == "proxy"
        for t in w.get("transports", [])
        if t.get("id") == S.WEB_TRANSPORT_ID
    ]
    for front in fronts or [web]:
        front["endpoint"].update(interface=settings.host, port=settings.port)
        if settings.tls is not None:
            front["endpoint"]["tls"] = settings.tls.endpoint_option()
    web["paths"]["/"]["directory"] = str(S.WEB_DIR)
    web["paths"]["info"]["value"]["realm"] = settings.realm
    urls = S.ws_urls(os.environ if env is None else env)
    if urls:  # a cluster's nodes: the page fails over between them (web/switchboard.js)
        web["paths"]["info"]["value"]["ws_urls"] = list(urls)
    S.transport(config, S.BACKEND_TRANSPORT_ID)["endpoint"]["port"] = settings.backend_port
    router_worker = S.router_worker(config)
    for realm in router_worker.get("realms", []):
        realm.setdefault("options", {})["event_dispatching_chunk_size"] = DISPATCH_IN_ONE_CHUNK
    for component in router_worker.get("components", []):
        component["realm"] = settings.realm
        _database_in(component, data_dir)
    for transport in router_worker.get("transports", []):
        for service in transport.get("paths", {}).values():
            if service.get("type") == "resource":
                _database_in(service, data_dir)
                if service.get("classname") == BRIDGE_RESOURCE:  # its keys in a cluster's Redis are the realm's
                    service.setdefault("extra", {})["realm"] = settings.realm
    containers = [w for w in config["workers"] if w["type"] == "container"]
    for worker in containers:
        for component in worker["components"]:
            component["realm"] = settings.realm
            component["transport"]["endpoint"]["port"] = settings.backend_port
    if not with_components:
        config["workers"] = [w for w in config["workers"] if w["type"] != "container"]
    _health_paths(web, S.container_components(config))
    metrics = web["paths"].setdefault(
        S.METRICS_PATH, {"type": "resource", "classname": "switchboard.router.services.metrics.create"}
    )
    # the interface of the transport /metrics is served on (with proxies in front, the router's own)
    metrics.setdefault("extra", {})["interface"] = web["endpoint"].get("interface", "")
    layout.with_proxies(config, settings.proxy_workers, settings.router_web_port)
    for worker in config["workers"]:
        if worker["type"] in NATIVE_WORKER_TYPES:
            # the hub directory first: components of a `switchboard init` directory import from it;
            # in a checkout, its root too (bench/ and tests/ run code in workers)
            worker.setdefault("options", {})["pythonpath"] = [str(settings.home), *S.CHECKOUT_PATH]
            worker["options"].setdefault("title", f"{WORKER_TITLE} {worker['id']}")
    _limit_message_size(config, int(limits.value("max_message_size", env)))
    _limit_http_idle(config, limits.value("http_timeout", env))
    return config


def _health_paths(web: dict, components: int) -> None:
    """`/health` and `/ready` (router/services/health.py) on the web transport of every hub, its own
    config's included; /ready waits for the `components` this config starts."""
    paths = web["paths"]
    paths.setdefault(S.HEALTH_PATH, {"type": "resource", "classname": "switchboard.router.services.health.alive"})
    ready = paths.setdefault(
        S.READY_PATH, {"type": "resource", "classname": "switchboard.router.services.health.ready"}
    )
    ready.setdefault("extra", {})["components"] = components


def _limit_message_size(config: dict, size: int) -> None:
    for worker in config["workers"]:
        for transport in worker.get("transports", []):
            if transport.get("type") == "rawsocket":
                transport.setdefault("options", {})["max_message_size"] = size
            for service in transport.get("paths", {}).values():
                if service.get("type") == "websocket":
                    service.setdefault("options", {})["max_message_size"] = size


def _limit_http_idle(config: dict, seconds: float) -> None:
    """Crossbar's web transport option `client_timeout` (Twisted's HTTP channel timeout): unset, a
    connection that never finished its request was held for ever."""
    for worker in config["workers"]:
        for transport in worker.get("transports", []):
            if transport.get("type") == "web":
                transport.setdefault("options", {})["client_timeout"] = int(seconds)


def _database_in(item: dict, data_dir: Path | None) -> None:
    """A relative extra "database" of a component or service, made absolute inside `data_dir`."""
    database = (item.get("extra") or {}).get("database")
    if database and data_dir is not None and not Path(database).is_absolute():
        item["extra"]["database"] = str(Path(data_dir).resolve() / database)


def crossbar_command() -> list[str]:
    """The command that runs Crossbar with Switchboard's personality (router/node/launch.py) in this
    interpreter's environment; crossbar comes with the [hub] extra."""
    import importlib.util

    if importlib.util.find_spec("crossbar") is None:
        raise RuntimeError("crossbar is not installed: pip install 'switchboard-hub[hub]' (make run does this)")
    # -P: the directory the hub is started from is not put on the import path (Crossbar hands the
    # controller's path to every worker): a stray module there could shadow the standard library
    return [sys.executable, "-P", "-m", "switchboard.router.node.launch"]


def running_node_pid(cbdir: Path) -> int | None:
    """The pid of a live node in `cbdir`, else None: its node.pid names a process that still runs
    Crossbar (a stale file of a killed node, or a reused pid, does not count)."""
    try:
        pid = int(json.loads((Path(cbdir) / "node.pid").read_text(encoding="utf-8"))["pid"])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if b"crossbar" in cmdline or b"switchboard.router.node.launch" in cmdline else None


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ready_components(call) -> int:
    """How many components have done their setup: each subscribes to READY_TOPIC once it has
    (components/base.py). `call` is a backend session's call: this asks the router's meta API, from
    outside the router (inside it, router/services/health.py reads the broker)."""
    from autobahn.wamp.exception import ApplicationError

    subscription = call("wamp.subscription.lookup", S.READY_TOPIC)
    if subscription is None:
        return 0
    try:
        return call("wamp.subscription.count_subscribers", subscription)
    except ApplicationError as e:
        if e.error == "wamp.error.no_such_subscription":  # its last subscriber left in between
            return 0
        raise


def worker_id_of(cmdline: list[str]) -> str | None:
    """The worker id a process's command line (as `ps` shows it) names, if it is one of our workers."""
    words = " ".join(cmdline).split()
    return words[1] if len(words) == 2 and words[0] == WORKER_TITLE else None


def group_processes(pgid: int) -> list:
    """Live (not zombie) processes of process group `pgid`, wherever they were reparented to."""
    import psutil  # installed with crossbar

    found = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (ProcessLookupError, psutil.Error):
            pass
    return found


class NodeError(RuntimeError):
    pass


class Node:
    """One Crossbar node process for `settings`, with its node directory at `cbdir`."""

    def __init__(
        self,
        cbdir: Path,
        settings: S.Settings,
        *,
        with_components: bool = True,
        log: IO | None = None,
        extra_env: dict | None = None,
        config: dict | None = None,
    ):
        self.cbdir = Path(cbdir)
        self.settings = settings
        self.with_components = with_components
        self.log = log
        self.extra_env = dict(extra_env or {})
        self.config = config  # None: the committed .crossbar/config.json
        self.process: subprocess.Popen | None = None
        self.secrets: dict[str, str] = {}
        self.secrets_created = False
        self._native_workers: set[str] = set()
        self._components = 0
        self._proxies: list[str] = []

    def proxy_marker(self, proxy: str) -> Path:
        """The file proxy worker `proxy` writes once it serves every path (router/patches/proxyready.py)."""
        return self.cbdir / (proxy + S.PROXY_READY_SUFFIX)

    @property
    def backend_secret(self) -> str:
        return self.secrets[S.ENV_BACKEND_SECRET]

    def prepare(self) -> None:
        """Write the rendered config and make sure the secrets exist."""
        self.cbdir.mkdir(parents=True, exist_ok=True)
        config = render_config(
            self.config or S.load_config(self.settings.config_file),
            self.settings,
            with_components=self.with_components,
            data_dir=self.cbdir,
            env={**os.environ, **self.extra_env},
        )
        (self.cbdir / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        self._native_workers = {w["id"] for w in config["workers"] if w["type"] in NATIVE_WORKER_TYPES}
        self._components = S.container_components(config)
        self._proxies = [w["id"] for w in config["workers"] if w["type"] == "proxy"]
        for proxy in self._proxies:  # a previous run's: each proxy writes its own once it serves every path
            self.proxy_marker(proxy).unlink(missing_ok=True)
        self.secrets, self.secrets_created = ensure_secrets(self.settings.secrets_file)

    def start(self, timeout: float = START_TIMEOUT) -> None:
        if self.process and self.process.poll() is None:
            raise NodeError("node already running")
        # refused before prepare() writes anything: a running hub's config is never overwritten
        running = running_node_pid(self.cbdir)
        if running is not None:
            raise NodeError(
                f"another hub (pid {running}) runs in {self.cbdir}: give this one a directory "
                f"of its own (switchboard run --dir, {S.ENV_DIR})"
            )
        ports = [self.settings.port, self.settings.backend_port]
        if self.settings.proxy_workers:
            ports.append(self.settings.router_web_port)
        for port in ports:
            if port_open(self.settings.host if port == self.settings.port else "127.0.0.1", port):
                raise NodeError(
                    f"port {port} is already in use: is another hub running? (set {S.ENV_PORT} / "
                    f"{S.ENV_BACKEND_PORT} / {S.ENV_ROUTER_WEB_PORT})"
                )
        self.prepare()
        env = {
            **os.environ,
            **self.extra_env,
            **self.secrets,
            "PYTHONUNBUFFERED": "1",
            S.ENV_NODE_CONFIG: str(self.cbdir / "config.json"),
            S.ENV_LOG_FORMAT: self.settings.log_format,
            S.ENV_PROXY_WORKERS: str(self.settings.proxy_workers),
        }
        cmd = [
            *crossbar_command(),
            "start",
            "--cbdir",
            str(self.cbdir),
            "--loglevel",
            self.settings.loglevel,
            "--color",
            "false",
        ]
        self.process = subprocess.Popen(
            cmd,
            env=env,
            stdout=self.log if self.log is not None else None,
            stderr=subprocess.STDOUT if self.log is not None else None,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Block until both transports listen, every worker runs, every proxy worker serves every path
        (/ws among them) and every component of the config has done its setup (subscribed to
        READY_TOPIC: components/base.py)."""
        deadline = time.monotonic() + timeout
        self._wait(lambda: port_open(self.settings.host, self.settings.port), deadline, "web transport")
        self._wait(lambda: port_open("127.0.0.1", self.settings.backend_port), deadline, "backend transport")
        self._wait(lambda: self._native_workers <= set(self.worker_pids()), deadline, "worker processes")
        self._wait(lambda: all(self.proxy_marker(p).exists() for p in self._proxies), deadline, "proxy workers' paths")
        if not self._components:
            return
        from switchboard.router.client import Client

        backend = Client(
            self.settings.backend_url, self.settings.realm, authid=S.BACKEND_AUTHID, secret=self.backend_secret
        )
        with backend as c:
            self._wait(lambda: ready_components(c.call) >= self._components, deadline, "components")

    def _wait(self, check, deadline: float, what: str) -> None:
        while True:
            if self.process.poll() is not None:
                raise NodeError(f"crossbar exited with code {self.process.returncode} before the {what} was ready")
            if check():
                return
            if time.monotonic() > deadline:
                raise NodeError(f"timed out waiting for the {what}")
            time.sleep(0.1)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Stop the node gracefully (SIGINT), then kill whatever is left of its process group."""
        if not self.process:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # crossbar stops in order on SIGINT (SIGTERM leaves it hanging)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        return self.process.returncode

    def kill(self, timeout: float = KILL_TIMEOUT) -> None:
        """SIGKILL the node's whole process group and wait until none of it is left.

        Workers share the controller's process group and outlive a controller killed with -9, still
        holding the node's ports: a restart has to wait until they are gone.
        """
        if not self.process:
            return
        pgid = self.process.pid
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout)
        deadline = time.monotonic() + timeout
        while group_processes(pgid):
            if time.monotonic() > deadline:
                raise NodeError(f"processes of node group {pgid} still alive {timeout:g} s after SIGKILL")
            time.sleep(0.05)

    def worker_pids(self) -> dict[str, int]:
        """{worker id: pid} of the node's native worker processes alive now."""
        import psutil  # installed with crossbar

        if not self.running:
            return {}
        found = {}
        try:
            children = psutil.Process(self.process.pid).children()
        except psutil.NoSuchProcess:
            return {}
        for child in children:
            try:
                worker_id = worker_id_of(child.cmdline())
            except psutil.Error:
                continue
            if worker_id:
                found[worker_id] = child.pid
        return found

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        self.stop()
        self.start(timeout)

    @property
    def running(self) -> bool:
        return bool(self.process) and self.process.poll() is None

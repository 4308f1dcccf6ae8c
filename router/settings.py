"""Switchboard's runtime settings: one place for every knob the node takes from the environment.

`.crossbar/config.json` is the map of the system and holds the defaults (realm, interface, ports);
the environment overrides them at start.  Nothing here imports crossbar, so a Django process or a
standalone component can read the same settings.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from switchboard.bridge import forwarded, limits, tickets
from switchboard.bridge.netloc import netloc


def package_folder(package: str) -> Path:
    """The folder a data package (switchboard.web, switchboard.crossbar) is loaded from: the
    repository's folder in a checkout (editable install), site-packages' copy in a wheel install."""
    spec = importlib.util.find_spec(package)
    for location in spec.submodule_search_locations or ():
        if Path(location).is_dir():
            return Path(location)
    raise RuntimeError(f"{package} has no folder: is switchboard-hub installed whole?")


#: The folder holding router/, components/, bridge/ and web/: the repository root in a checkout,
#: site-packages/switchboard in a wheel install.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: In a checkout, its root, which workers also import from (bench/, tests/); in a wheel install,
#: nothing (PROJECT_ROOT is then site-packages/switchboard, whose folders must not import bare).
CHECKOUT_PATH = (str(PROJECT_ROOT),) if (PROJECT_ROOT / "setup.cfg").is_file() else ()
#: The default node config (the repository's .crossbar/config.json, shipped as package data).
CONFIG_DIR = package_folder("switchboard.crossbar")
CONFIG_FILE = CONFIG_DIR / "config.json"
#: The page and its JavaScript (the repository's web/, shipped as package data).
WEB_DIR = package_folder("switchboard.web")

# Environment variable names (documented in README "Configuration").
ENV_HOST = "SWITCHBOARD_HOST"
ENV_PORT = "SWITCHBOARD_PORT"
ENV_BACKEND_PORT = "SWITCHBOARD_BACKEND_PORT"
#: proxy workers sharing the public port in front of the router (router/node/layout.py); 0: none;
#: AUTO_PROXY_WORKERS (the default): `switchboard run` measures the machine (router/node/layout_measure.py)
ENV_PROXY_WORKERS = "SWITCHBOARD_PROXY_WORKERS"
AUTO_PROXY_WORKERS = "auto"
#: seconds each load of the layout measurement runs for, per candidate layout
ENV_LAYOUT_SECONDS = "SWITCHBOARD_LAYOUT_SECONDS"
DEFAULT_LAYOUT_SECONDS = 2.0
#: with proxy workers, the loopback port of the router's own web transport, which they forward to
ENV_ROUTER_WEB_PORT = "SWITCHBOARD_ROUTER_WEB_PORT"
ENV_LOGLEVEL = "SWITCHBOARD_LOGLEVEL"
#: "text" (default) or "json": one JSON object per line, for log shippers (router/node/logview.py)
ENV_LOG_FORMAT = "SWITCHBOARD_LOG_FORMAT"
#: The hub's own directory: its config.json if it has one (`switchboard init`), secrets.env, and node/
#: (the rendered config, node key and databases). `switchboard run --dir` sets it.
ENV_DIR = "SWITCHBOARD_DIR"
ENV_SECRETS_FILE = "SWITCHBOARD_SECRETS_FILE"
ENV_BACKEND_SECRET = "SWITCHBOARD_BACKEND_SECRET"
ENV_BRIDGE_KEY = "SWITCHBOARD_BRIDGE_KEY"
ENV_BRIDGE_SECRET = "SWITCHBOARD_BRIDGE_SECRET"
ENV_TICKET_SECRET = "SWITCHBOARD_TICKET_SECRET"
#: the dashboard's sign-in secret (web/admin.html): a session that gives it as its ticket joins with
#: role ADMIN_ROLE (router/services/auth.py)
ENV_ADMIN_SECRET = "SWITCHBOARD_ADMIN_SECRET"
ENV_DJANGO_URL = "SWITCHBOARD_DJANGO_URL"
ENV_FORWARD_TOPICS = "SWITCHBOARD_FORWARD_TOPICS"
ENV_URL = "SWITCHBOARD_URL"
#: Set by the node runner for its workers: the rendered config the node runs (router components
#: read their rules from it, so a test or bench config applies to them too).
ENV_NODE_CONFIG = "SWITCHBOARD_NODE_CONFIG"
ENV_REALM = "SWITCHBOARD_REALM"
#: "0" keeps Crossbar's and Autobahn's debug-log arguments eager (router/patches/fastlog.py), e.g. to measure them
ENV_LAZY_LOG_ARGS = "SWITCHBOARD_LAZY_LOG_ARGS"
#: "0" leaves each worker's startup heap in the garbage collector's full passes (router/patches/gcfreeze.py)
ENV_GC_FREEZE = "SWITCHBOARD_GC_FREEZE"
#: seconds between a worker's full garbage-collection passes over its frozen objects too; "0" freezes
#: nothing after the startup heap (router/patches/gcfreeze.py)
ENV_GC_FULL_EVERY = "SWITCHBOARD_GC_FULL_EVERY"
#: "0" keeps Twisted's own write path: send a turn later, after a writability poll (router/patches/turnflush.py)
ENV_TURN_FLUSH = "SWITCHBOARD_TURN_FLUSH"
#: "0" sends WAMP messages to WebSocket peers through Autobahn's sendMessage (router/patches/fastsend.py)
ENV_FAST_SEND = "SWITCHBOARD_FAST_SEND"
#: "0" keeps Crossbar's worker log path: every record its own pipe write, connection chatter at info
#: (router/patches/workerlog.py)
ENV_WORKER_LOG = "SWITCHBOARD_WORKER_LOG"

#: "0" leaves out the guards against hostile clients (router/patches/ingress.py, router/patches/sendlimit.py,
#: router/patches/httplimit.py, router/patches/connlimit.py): only to measure what they cost (bench variant
#: sb_unguarded), never on a hub that faces clients
ENV_GUARDS = "SWITCHBOARD_GUARDS"
#: "0" leaves out the message counting behind /metrics (router/patches/counting.py): only to measure
#: what it costs (bench variant sb_no_metrics)
ENV_METRICS = "SWITCHBOARD_METRICS"
#: the bearer token /metrics asks for when the hub listens beyond loopback (router/services/metrics.py)
ENV_METRICS_TOKEN = "SWITCHBOARD_METRICS_TOKEN"
#: PEM files the web transport serves https/wss with (docs/deploy.md): the server certificate alone,
#: its private key (unencrypted), and optionally the intermediate certificates of its chain
ENV_TLS_CERT = "SWITCHBOARD_TLS_CERT"
ENV_TLS_KEY = "SWITCHBOARD_TLS_KEY"
ENV_TLS_CHAIN = "SWITCHBOARD_TLS_CHAIN"
#: addresses/networks of reverse proxies whose X-Forwarded-For is believed (bridge/forwarded.py,
#: router/patches/forwarded.py); unset: none, the header is ignored
ENV_TRUSTED_PROXIES = "SWITCHBOARD_TRUSTED_PROXIES"
#: Set by `switchboard run` (router/node/supervisor.py) for the node it restarts: its restarts so far
#: by cause, as JSON ({"worker:router": 2, "controller": 1}), which /metrics gives as
#: switchboard_restarts_total (a restart starts a new router process, whose own counters begin at 0)
ENV_RESTARTS = "SWITCHBOARD_RESTARTS"
#: The cluster's Redis (router/cluster/): set, this node shares events, retained values, history,
#: presence and replay memory with every node given the same URL; unset, the node is on its own
ENV_REDIS_URL = "SWITCHBOARD_REDIS_URL"
#: Topic prefixes (comma-separated) that stay on the node they are published on: every node's own
#: components publish them (router/patches/relay.py)
ENV_NODE_LOCAL_TOPICS = "SWITCHBOARD_NODE_LOCAL_TOPICS"
#: The WebSocket URLs of a cluster's nodes (comma-separated) that pages fail over between: /info gives
#: them to the page as `ws_urls` (web/switchboard.js tries its own node first, then the others)
ENV_WS_URLS = "SWITCHBOARD_WS_URLS"
#: what SWITCHBOARD_REDIS_URL may start with (redis-py's URLs: TCP, TLS, a Unix socket)
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
#: the demo clock ticks on every node: each client hears its own node's clock once a second
DEFAULT_NODE_LOCAL_TOPICS = "clock.tick"

#: Transport ids in config.json that the settings override.
WEB_TRANSPORT_ID = "web"
BACKEND_TRANSPORT_ID = "backend"
#: Authid backend components authenticate as (WAMP-CRA, role BACKEND_ROLE).
BACKEND_AUTHID = "backend"
#: The role of backend components and of the router's own components: may call, register, publish and
#: subscribe under every URI.
BACKEND_ROLE = "backend"

#: the web transport's liveness and readiness paths (router/services/health.py)
HEALTH_PATH, READY_PATH = "health", "ready"
#: the web transport's Prometheus path (router/services/metrics.py)
METRICS_PATH = "metrics"
#: the admin dashboard's page in the web transport's static directory (web/admin.html)
DASHBOARD_PATH = tickets.DASHBOARD_PATH
#: Every backend component subscribes here once its setup is done (components/base.py): a hub is
#: ready when as many sessions are subscribed as its config has container components. Nothing is
#: published on it.
READY_TOPIC = "switchboard.component.ready"
#: ...and each proxy worker writes <worker id> + this in the node directory once it serves every path
#: of its web transport (router/patches/proxyready.py)
PROXY_READY_SUFFIX = ".serving"
#: ...and logs this line (router/node/logview.py reads it)
READY_LINE = "component {name} ready"

#: SWITCHBOARD_ROUTER_WEB_PORT's default (used only with proxy workers)
DEFAULT_ROUTER_WEB_PORT = 8082
#: the most proxy workers a node runs (each is a process of about 130 MB)
MAX_PROXY_WORKERS = 64
#: Key id of the HTTP bridge's signing secret when SWITCHBOARD_BRIDGE_KEY is not set.
DEFAULT_BRIDGE_KEY = "django"
DEFAULT_LOGLEVEL = "info"
LOGLEVELS = ("none", "error", "warn", "info", "debug", "trace")
LOG_FORMATS = ("text", "json")
#: Seconds between a worker's full garbage-collection passes when SWITCHBOARD_GC_FULL_EVERY is not set.
DEFAULT_GC_FULL_EVERY = 300.0
#: The hub directory when SWITCHBOARD_DIR is not set, relative to the current directory (in a
#: checkout, `make run` runs from its root; .gitignore keeps it out of git).
DEFAULT_HUB_DIR = Path(".switchboard")
#: Inside the hub directory: its own config (optional), the dev secrets and the node directory.
HUB_CONFIG_NAME = "config.json"
SECRETS_NAME = "secrets.env"
#: the layout measurement's answer for this machine, in the hub directory (router/node/layout_measure.py)
LAYOUT_NAME = "layout.json"
NODE_DIR_NAME = "node"


def hub_dir(env=None) -> Path:
    """SWITCHBOARD_DIR, absolute, else .switchboard in the current directory."""
    env = os.environ if env is None else env
    return Path(env.get(ENV_DIR) or DEFAULT_HUB_DIR).resolve()


def config_file(env=None) -> Path:
    """The config a hub runs: the running node's (inside a node), else its hub directory's own
    config.json (`switchboard init`), else the default one shipped with the package."""
    env = os.environ if env is None else env
    if env.get(ENV_NODE_CONFIG):
        return Path(env[ENV_NODE_CONFIG])
    return hub_config(hub_dir(env))


def hub_config(home: Path) -> Path:
    """Hub directory `home`'s own config.json (`switchboard init`), else the default one."""
    own = home / HUB_CONFIG_NAME
    return own if own.is_file() else CONFIG_FILE


class SettingsError(ValueError):
    """A setting from the environment is unusable; the message names the variable."""


def gc_full_every(env) -> float:
    """SWITCHBOARD_GC_FULL_EVERY: seconds between a worker's full garbage-collection passes, 0 for off."""
    raw = env.get(ENV_GC_FULL_EVERY) or ""
    try:
        seconds = float(raw) if raw else DEFAULT_GC_FULL_EVERY
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds < math.inf:
        raise SettingsError(f"{ENV_GC_FULL_EVERY}={raw!r} is not a number of seconds (0: off)")
    return seconds


def log_format(env) -> str:
    """SWITCHBOARD_LOG_FORMAT: how the node prints its log, "text" (default) or "json"."""
    value = env.get(ENV_LOG_FORMAT) or LOG_FORMATS[0]
    if value not in LOG_FORMATS:
        raise SettingsError(f"{ENV_LOG_FORMAT}={value!r} is not one of {', '.join(LOG_FORMATS)}")
    return value


def trusted_proxies(env) -> tuple:
    """SWITCHBOARD_TRUSTED_PROXIES as networks (bridge/forwarded.py), else SettingsError naming it."""
    try:
        return forwarded.parse_trusted(env.get(ENV_TRUSTED_PROXIES) or "", ENV_TRUSTED_PROXIES)
    except ValueError as e:
        raise SettingsError(str(e)) from None


def guards_on(env=None) -> bool:
    """Whether the guards against hostile clients are installed (SWITCHBOARD_GUARDS, default on)."""
    return runtime().guards if env is None else env.get(ENV_GUARDS, "1") != "0"


def _on(env, name: str) -> bool:
    """A switch that is on unless set to "0"."""
    return env.get(name, "1") != "0"


#: Topic prefixes forwarded to Django when SWITCHBOARD_FORWARD_TOPICS is not set.
DEFAULT_FORWARD_TOPICS = "django.events."


@dataclass(frozen=True)
class Runtime:
    """What a worker process (the router services, the patches, a component) takes from the
    environment the node starts it with: read once, at first use (`runtime()`), here and nowhere else."""

    bridge_key: str
    bridge_secret: str | None
    ticket_secret: str | None
    admin_secret: str | None
    backend_secret: str | None
    django_url: str
    forward_topics: tuple[str, ...]
    #: what a standalone component connects to, when given (run_standalone)
    component_url: str | None
    component_realm: str | None
    lazy_log_args: bool
    gc_freeze: bool
    gc_full_every: float
    turn_flush: bool
    fast_send: bool
    worker_log: bool
    guards: bool
    metrics: bool
    metrics_token: str | None
    #: reverse proxies whose X-Forwarded-For names the client (router/patches/forwarded.py)
    trusted_proxies: tuple = ()
    #: proxy workers in front of the router (router/node/layout.py): they limit connections per address
    proxy_workers: int = 0
    #: restarts of the node by `switchboard run` so far, by cause (ENV_RESTARTS)
    restarts: dict[str, int] = field(default_factory=dict)
    #: the cluster's Redis, None on a node of its own (ENV_REDIS_URL)
    redis_url: str | None = None
    node_local_topics: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env) -> "Runtime":
        topics = env.get(ENV_FORWARD_TOPICS, DEFAULT_FORWARD_TOPICS)
        return cls(
            bridge_key=env.get(ENV_BRIDGE_KEY) or DEFAULT_BRIDGE_KEY,
            bridge_secret=env.get(ENV_BRIDGE_SECRET) or None,
            ticket_secret=env.get(ENV_TICKET_SECRET) or None,
            admin_secret=env.get(ENV_ADMIN_SECRET) or None,
            backend_secret=env.get(ENV_BACKEND_SECRET) or None,
            django_url=(env.get(ENV_DJANGO_URL) or "").rstrip("/"),
            forward_topics=tuple(filter(None, (t.strip() for t in topics.split(",")))),
            component_url=env.get(ENV_URL) or None,
            component_realm=env.get(ENV_REALM) or None,
            lazy_log_args=_on(env, ENV_LAZY_LOG_ARGS),
            gc_freeze=_on(env, ENV_GC_FREEZE),
            gc_full_every=gc_full_every(env),
            turn_flush=_on(env, ENV_TURN_FLUSH),
            fast_send=_on(env, ENV_FAST_SEND),
            worker_log=_on(env, ENV_WORKER_LOG),
            guards=_on(env, ENV_GUARDS),
            metrics=_on(env, ENV_METRICS),
            metrics_token=env.get(ENV_METRICS_TOKEN) or None,
            trusted_proxies=trusted_proxies(env),
            proxy_workers=proxy_workers(env) or 0,
            restarts=restarts_of(env),
            redis_url=redis_url(env),
            node_local_topics=_list(env.get(ENV_NODE_LOCAL_TOPICS, DEFAULT_NODE_LOCAL_TOPICS)),
        )


def _list(raw: str) -> tuple[str, ...]:
    return tuple(filter(None, (item.strip() for item in raw.split(","))))


def redis_url(env) -> str | None:
    """SWITCHBOARD_REDIS_URL, checked to be a Redis URL (SettingsError naming it otherwise)."""
    url = (env.get(ENV_REDIS_URL) or "").strip()
    if not url:
        return None
    if not url.startswith(REDIS_SCHEMES):
        schemes = ", ".join(scheme + "..." for scheme in REDIS_SCHEMES)
        raise SettingsError(f"{ENV_REDIS_URL}={url!r} is not a Redis URL ({schemes})")
    return url


def ws_urls(env) -> tuple[str, ...]:
    """SWITCHBOARD_WS_URLS, each checked to be a ws:// or wss:// URL (SettingsError naming it otherwise)."""
    urls = _list(env.get(ENV_WS_URLS) or "")
    for url in urls:
        if not url.startswith(("ws://", "wss://")) or len(url) > 2000:
            raise SettingsError(f"{ENV_WS_URLS}: {url[:100]!r} is not a WebSocket URL (ws://... or wss://...)")
    return urls


def without_password(url: str) -> str:
    """`url` fit for a log line: a password in it replaced by ***."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"


def restarts_of(env) -> dict[str, int]:
    """SWITCHBOARD_RESTARTS as {cause: count}; anything else (unset, or not what the supervisor
    writes) as none: it only feeds a metric, and must never stop a worker."""
    try:
        found = json.loads(env.get(ENV_RESTARTS) or "{}")
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(k): v for k, v in found.items() if type(v) is int and v >= 0}


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """This process's Runtime, read from its environment the first time it is asked for."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime.from_env(os.environ)
    return _runtime


def check_limits(env) -> None:
    """Every limit (bridge/limits.py) readable from `env`, else SettingsError naming the variable: the
    workers read them at start, and a bad one must stop the hub before it starts, not in a worker."""
    try:
        limits.read(env)
    except limits.LimitError as e:
        raise SettingsError(str(e)) from None


def load_config(path: Path | None = None) -> dict:
    """The node config: `path`, else the one this hub runs (config_file)."""
    path = path or config_file()
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def router_worker(config: dict) -> dict:
    return next(w for w in config["workers"] if w["type"] == "router")


def transport(config: dict, transport_id: str) -> dict:
    for t in router_worker(config)["transports"]:
        if t.get("id") == transport_id:
            return t
    raise KeyError(f"config has no transport with id {transport_id!r}")


def move_into_router(config: dict, worker_id: str) -> None:
    """Run container worker `worker_id`'s components inside the router worker, as backend sessions.

    For a small, trusted, non-blocking procedure whose call rate matters: each call then skips the
    RawSocket hop to another process (docs/benchmarks.md, "Tuning", item 5), but the component shares
    the router's event loop (a blocking call stalls all routing) and its process (a crash takes the
    router down), and Crossbar no longer restarts it on its own.
    """
    worker = next((w for w in config["workers"] if w.get("id") == worker_id and w["type"] == "container"), None)
    if worker is None:
        raise KeyError(f"config has no container worker with id {worker_id!r}")
    config["workers"].remove(worker)
    in_router = router_worker(config).setdefault("components", [])
    in_router.extend(
        {**{k: v for k, v in c.items() if k != "transport"}, "role": BACKEND_ROLE} for c in worker["components"]
    )


#: The router's own services: started before any transport listens, not counted by readiness.
SERVICES_PACKAGE = "switchboard.router.services."


def container_components(config: dict) -> int:
    """How many backend components the config runs: in container workers, and moved into the router
    worker (move_into_router); the router's own services are not counted."""
    in_containers = sum(len(w.get("components", [])) for w in config["workers"] if w["type"] == "container")
    in_router = [
        c
        for c in router_worker(config).get("components", [])
        if not c.get("classname", "").startswith(SERVICES_PACKAGE)
    ]
    return in_containers + len(in_router)


#: what starts every PEM certificate
PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class Tls:
    """The web transport's certificate, key and chain files (absolute), checked readable and matching."""

    cert: Path
    key: Path
    chain: Path | None = None

    @classmethod
    def from_env(cls, env) -> "Tls | None":
        """SWITCHBOARD_TLS_CERT / _KEY / _CHAIN: None when neither certificate nor key is set; else
        SettingsError naming the variable when a file is missing, unreadable, not PEM, or the key is
        not the certificate's (checked here, so a bad file stops the hub before Crossbar starts)."""
        cert, key, chain = (env.get(name) or "" for name in (ENV_TLS_CERT, ENV_TLS_KEY, ENV_TLS_CHAIN))
        if not (cert or key):
            if chain:
                raise SettingsError(f"{ENV_TLS_CHAIN} is set but {ENV_TLS_CERT} and {ENV_TLS_KEY} are not")
            return None
        if not (cert and key):
            missing = ENV_TLS_KEY if cert else ENV_TLS_CERT
            raise SettingsError(f"{missing} is not set: https needs both {ENV_TLS_CERT} and {ENV_TLS_KEY}")
        tls = cls(Path(cert).resolve(), Path(key).resolve(), Path(chain).resolve() if chain else None)
        tls.check()
        return tls

    def check(self) -> None:
        import ssl

        files = ((ENV_TLS_CERT, self.cert), (ENV_TLS_KEY, self.key), (ENV_TLS_CHAIN, self.chain))
        texts = {}
        for name, path in files:
            if path is None:
                continue
            try:
                texts[name] = path.read_text(encoding="ascii", errors="replace")
            except OSError as e:
                raise SettingsError(f"{name}={str(path)!r} cannot be read: {e.strerror}") from None
        count = texts[ENV_TLS_CERT].count(PEM_CERTIFICATE)
        if count != 1:
            hint = (
                f": Crossbar serves only the first; put the others (e.g. chain.pem) in {ENV_TLS_CHAIN}" if count else ""
            )
            raise SettingsError(f"{ENV_TLS_CERT}={str(self.cert)!r} holds {count} PEM certificates, not 1{hint}")
        if self.chain is not None and PEM_CERTIFICATE not in texts[ENV_TLS_CHAIN]:
            raise SettingsError(f"{ENV_TLS_CHAIN}={str(self.chain)!r} holds no PEM certificate")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            # an empty password: an encrypted key fails here instead of prompting (Crossbar cannot use one)
            context.load_cert_chain(self.cert, self.key, password=b"")
        except (ssl.SSLError, ValueError) as e:
            raise SettingsError(
                f"{ENV_TLS_KEY}={str(self.key)!r} is not an unencrypted PEM private key of the certificate in "
                f"{ENV_TLS_CERT} ({getattr(e, 'reason', None) or e})"
            ) from None

    @classmethod
    def from_endpoint(cls, endpoint: dict) -> "Tls | None":
        """The files a config's listening endpoint already serves TLS with (a rendered config, as
        the CLI reads a running hub's), unchecked: the hub checked them when it started."""
        option = endpoint.get("tls")
        if not option:
            return None
        chain = option.get("chain_certificates") or [None]
        return cls(Path(option["certificate"]), Path(option["key"]), Path(chain[0]) if chain[0] else None)

    def endpoint_option(self) -> dict:
        """Crossbar's `tls` option of a listening endpoint (crossbar/common/twisted/endpoint.py): it
        serves TLS 1.3 only."""
        option = {"certificate": str(self.cert), "key": str(self.key)}
        if self.chain is not None:
            option["chain_certificates"] = [str(self.chain)]
        return option


def realm_name(config: dict) -> str:
    return router_worker(config)["realms"][0]["name"]


def _port(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        port = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise SettingsError(f"{name}={raw!r} is outside 1..65535")
    return port


def proxy_workers(env) -> int | None:
    """SWITCHBOARD_PROXY_WORKERS: a count, or None for `auto` or unset (`switchboard run` measures)."""
    raw = (env.get(ENV_PROXY_WORKERS) or "").strip()
    if raw in ("", AUTO_PROXY_WORKERS):
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_PROXY_WORKERS:
        raise SettingsError(
            f"{ENV_PROXY_WORKERS}={raw!r} is neither {AUTO_PROXY_WORKERS!r} nor a whole number from 0 to "
            f"{MAX_PROXY_WORKERS}"
        )
    return int(raw)


def layout_seconds(env) -> float:
    """SWITCHBOARD_LAYOUT_SECONDS: how long each load of the layout measurement runs, 0.2 to 60 s."""
    raw = env.get(ENV_LAYOUT_SECONDS) or ""
    try:
        value = float(raw) if raw else DEFAULT_LAYOUT_SECONDS
    except ValueError:
        value = -1.0
    if not 0.2 <= value <= 60:
        raise SettingsError(f"{ENV_LAYOUT_SECONDS}={raw!r} is not a number of seconds from 0.2 to 60")
    return value


@dataclass(frozen=True)
class Settings:
    """Where the node listens and how loudly it logs."""

    host: str
    port: int
    backend_port: int
    realm: str
    loglevel: str = DEFAULT_LOGLEVEL
    log_format: str = LOG_FORMATS[0]
    #: proxy workers in front of the router (router/node/layout.py), and the router's web port then
    proxy_workers: int = 0
    #: SWITCHBOARD_PROXY_WORKERS is auto: `switchboard run` measures and sets proxy_workers
    layout_auto: bool = False
    router_web_port: int = DEFAULT_ROUTER_WEB_PORT
    #: the hub directory (SWITCHBOARD_DIR): secrets and node directory live under it
    home: Path = field(default_factory=lambda: hub_dir({}))
    secrets_file: Path = field(default_factory=lambda: hub_dir({}) / SECRETS_NAME)
    #: certificate and key the web transport serves https/wss with; None: http/ws
    tls: Tls | None = None
    #: the cluster's Redis (ENV_REDIS_URL); None: a node on its own
    redis_url: str | None = None

    @classmethod
    def from_env(cls, env: dict | None = None, config: dict | None = None) -> "Settings":
        env = os.environ if env is None else env
        config = load_config(config_file(env)) if config is None else config
        web = transport(config, WEB_TRANSPORT_ID)["endpoint"]
        backend = transport(config, BACKEND_TRANSPORT_ID)["endpoint"]
        loglevel = env.get(ENV_LOGLEVEL) or DEFAULT_LOGLEVEL
        if loglevel not in LOGLEVELS:
            raise SettingsError(f"{ENV_LOGLEVEL}={loglevel!r} is not one of {', '.join(LOGLEVELS)}")
        gc_full_every(env)  # read by every worker (router/patches/gcfreeze.py): refused here, before the node starts
        check_limits(env)
        tls = Tls.from_env(env) or Tls.from_endpoint(web)
        trusted_proxies(env)  # read by the router worker (router/patches/forwarded.py): refused here first
        ws_urls(env)  # rendered into /info (router/node/process.py): refused here first
        home = hub_dir(env)
        proxies = proxy_workers(env)
        layout_seconds(env)  # read by `switchboard run` when it measures: refused here, at once
        return cls(
            host=env.get(ENV_HOST) or web["interface"],
            port=_port(env, ENV_PORT, web["port"]),
            backend_port=_port(env, ENV_BACKEND_PORT, backend["port"]),
            realm=realm_name(config),
            loglevel=loglevel,
            log_format=log_format(env),
            proxy_workers=proxies or 0,
            layout_auto=proxies is None,
            router_web_port=_port(env, ENV_ROUTER_WEB_PORT, DEFAULT_ROUTER_WEB_PORT),
            home=home,
            secrets_file=Path(env.get(ENV_SECRETS_FILE) or home / SECRETS_NAME).resolve(),
            tls=tls,
            redis_url=redis_url(env),
        )

    @property
    def config_file(self) -> Path:
        """The hub directory's own config.json (`switchboard init`), else the default one."""
        return hub_config(self.home)

    @property
    def node_dir(self) -> Path:
        """The Crossbar node directory `switchboard run` uses: rendered config, node key, databases."""
        return self.home / NODE_DIR_NAME

    @property
    def http_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{netloc(self.host, self.port)}/"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://{netloc(self.host, self.port)}/ws"

    @property
    def ready_url(self) -> str:
        return self.http_url + READY_PATH

    @property
    def metrics_url(self) -> str:
        return self.http_url + METRICS_PATH

    @property
    def dashboard_url(self) -> str:
        """The admin dashboard (web/admin.html; docs/operations.md, "The dashboard")."""
        return self.http_url + DASHBOARD_PATH

    @property
    def bridge_url(self) -> str:
        """Base URL of the HTTP bridge (docs/http-bridge.md)."""
        return self.http_url + "bridge/"

    @property
    def backend_url(self) -> str:
        """RawSocket URL backend components connect to (loopback only)."""
        return f"rs://127.0.0.1:{self.backend_port}"

"""Test helpers users import in their own test suites: a real hub on free ports in a temp dir.

    from switchboard.router.testing.hub import Hub

    with Hub.started(tmp_path) as hub:
        with hub.client() as c:
            assert c.call("demo.add2", 2, 3) == 5

The pytest plugin (switchboard.router.testing.pytest_plugin, registered as a pytest11 entry point) wraps this in the
`switchboard_hub` fixture.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Iterator

from switchboard.router import settings as S
from switchboard.router.client import Client
from switchboard.router.node.process import Node, free_port


class Hub:
    """A Crossbar node running Switchboard's config, isolated in `workdir`, on free loopback ports."""

    def __init__(
        self,
        workdir: Path,
        *,
        with_components: bool = True,
        loglevel: str = "info",
        log_format: str = S.LOG_FORMATS[0],
        proxy_workers: int = 0,
        env: dict[str, str] | None = None,
        config: dict | None = None,
        tls: S.Tls | None = None,
        secrets_file: Path | None = None,
    ):
        """`env` adds environment for the node, e.g. {"SWITCHBOARD_DJANGO_URL": ...}; `config`
        replaces .crossbar/config.json (start from switchboard.router.settings.load_config() and change it);
        `tls` serves https/wss with its certificate (clients then need a context that trusts it);
        `secrets_file` is where its secrets are (generated there if missing; the nodes of a cluster
        share one)."""
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = config or S.load_config(S.CONFIG_FILE)
        self.settings = S.Settings(
            host="127.0.0.1",
            port=free_port(),
            backend_port=free_port(),
            realm=S.realm_name(config),
            loglevel=loglevel,
            log_format=log_format,
            proxy_workers=proxy_workers,
            router_web_port=free_port(),
            home=self.workdir,
            secrets_file=Path(secrets_file) if secrets_file else self.workdir / "secrets.env",
            tls=tls,
        )
        self.log_path = self.workdir / "node.log"
        self._log = None
        self.node = Node(
            self.workdir / "node", self.settings, with_components=with_components, extra_env=env, config=config
        )

    @classmethod
    @contextlib.contextmanager
    def started(cls, workdir: Path, **kwargs) -> Iterator["Hub"]:
        hub = cls(workdir, **kwargs)
        hub.start()
        try:
            yield hub
        finally:
            hub.stop()

    def start(self, timeout: float | None = None) -> None:
        """Start the node and wait until it is ready (`timeout`: seconds, default the node's)."""
        if self._log is None or self._log.closed:
            self._log = open(self.log_path, "ab")
        self.node.log = self._log
        if timeout is None:
            self.node.start()
        else:
            self.node.start(timeout)

    def stop(self) -> None:
        self.node.stop()
        if self._log:
            self._log.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def kill(self) -> None:
        """kill -9 of the whole node (controller and every worker), as a crash of its machine would."""
        self.node.kill()
        if self._log:
            self._log.close()

    @property
    def realm(self) -> str:
        return self.settings.realm

    @property
    def url(self) -> str:
        """WebSocket URL browsers use (anonymous role)."""
        return self.settings.ws_url

    @property
    def http_url(self) -> str:
        return self.settings.http_url

    @property
    def backend_url(self) -> str:
        return self.settings.backend_url

    @property
    def backend_secret(self) -> str:
        return self.node.backend_secret

    @property
    def secrets(self) -> dict[str, str]:
        """The secrets this hub runs with (backend, bridge, ticket, admin), by environment variable name."""
        return dict(self.node.secrets)

    @property
    def bridge_url(self) -> str:
        """Base URL of the HTTP bridge, e.g. http://127.0.0.1:PORT/bridge/."""
        return self.settings.bridge_url

    @property
    def bridge_key(self) -> str:
        """The key id the hub's bridge takes: as its workers read it (settings.Runtime)."""
        return S.Runtime.from_env({**os.environ, **self.node.extra_env}).bridge_key

    @property
    def bridge_secret(self) -> str:
        return self.node.secrets[S.ENV_BRIDGE_SECRET]

    @property
    def ticket_secret(self) -> str:
        return self.node.secrets[S.ENV_TICKET_SECRET]

    @property
    def admin_secret(self) -> str:
        """The dashboard's sign-in secret: a WebSocket session giving it as its ticket is role admin."""
        return self.node.secrets[S.ENV_ADMIN_SECRET]

    def admin_client(self, **kwargs) -> Client:
        """A WebSocket session signed in with the admin secret, as the dashboard is (role admin)."""
        return Client(self.url, self.realm, ticket=self.admin_secret, **kwargs)

    @property
    def backend_env(self) -> dict[str, str]:
        """Environment for a standalone component process joining this hub."""
        return {
            **os.environ,
            S.ENV_BACKEND_SECRET: self.backend_secret,
            S.ENV_URL: self.backend_url,
            S.ENV_REALM: self.realm,
        }

    def client(self, **kwargs) -> Client:
        """An anonymous WebSocket session, as a browser gets."""
        return Client(self.url, self.realm, **kwargs)

    def backend_client(self, **kwargs) -> Client:
        """A RawSocket session authenticated as the backend role, as components get."""
        return Client(self.backend_url, self.realm, authid=S.BACKEND_AUTHID, secret=self.backend_secret, **kwargs)

    def component_pid(self, procedure: str) -> int:
        """PID of the process whose session registered `procedure`, for fault-injection tests.

        Found through the router: the callee's session gives its transport's peer address, and the
        local process holding that TCP port is the component's worker.
        """
        import psutil  # installed with crossbar

        with self.backend_client() as backend:
            registration = backend.call("wamp.registration.lookup", procedure)
            if registration is None:
                raise LookupError(f"{procedure} is not registered")
            session = backend.call("wamp.registration.list_callees", registration)[0]
            peer = backend.call("wamp.session.get", session)["transport"]["peer"]  # e.g. tcp4:127.0.0.1:50014
        port = int(peer.rsplit(":", 1)[1])
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.pid:
                return conn.pid
        raise LookupError(f"no local process holds {peer}")

    def worker_pid(self, worker_id: str) -> int:
        """PID of the node's worker process `worker_id` (e.g. "router", "chat"), for fault-injection tests."""
        pids = self.node.worker_pids()
        if worker_id not in pids:
            raise LookupError(f"no worker {worker_id!r} running (running: {sorted(pids)})")
        return pids[worker_id]

    def log_text(self) -> str:
        if self._log and not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value (returned) or `timeout` passes (TimeoutError).

    For conditions with no event to wait on (a port opening, a registration appearing); where an
    event exists, wait on it instead (Subscription.get).
    """

    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except Exception as e:  # the thing polled may fail until it is ready
            last_error = e
        time.sleep(interval)
    raise TimeoutError(f"{what} not met within {timeout}s" + (f" (last error: {last_error!r})" if last_error else ""))

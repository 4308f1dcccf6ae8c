"""A Redis server of our own (Debian's redis-server binary) on a loopback port, as a child process.

`switchboard cluster up` (router/cluster/up.py) runs its cluster's Redis with it; a cluster's tests
(switchboard.router.testing.cluster, through switchboard.router.testing.redis_server) and `make
bench`'s Channels rows start a throw-away one each. `make redis-server` installs the binary.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

from switchboard.router.node.process import free_port


class RedisMissing(RuntimeError):
    pass


def find_binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if not found:
        raise RedisMissing(
            "redis-server is not installed: install it with `make redis-server` (or sudo apt-get install redis-server)"
        )
    return found


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def started(workdir: Path, timeout: float = 15.0, **kwargs) -> Iterator["RedisServer"]:
    server = RedisServer(workdir, **kwargs)
    server.start(timeout)
    try:
        yield server
    finally:
        server.stop()


class RedisServer:
    """`durable`: an append-only file synced every second (what a cluster's Redis should run with),
    so a restart keeps what was written up to a second before; else nothing is kept (a pure cache)."""

    def __init__(self, workdir: Path, *, durable: bool = False, port: int | None = None, own_session: bool = False):
        """`port`: None takes a free one. `own_session`: the server runs in a session of its own, so
        a terminal's Ctrl-C reaches only its parent, which stops it after the nodes using it."""
        self.binary = find_binary()
        self.workdir = Path(workdir)
        self.durable = durable
        self.own_session = own_session
        self.port = free_port() if port is None else port
        self.host = "127.0.0.1"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 15.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "redis.log"
        # Durable: AOF, fsync every second. Else no persistence (no RDB snapshots, no AOF): Channels'
        # layer is transient, as it is in production.
        cmd = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes" if self.durable else "no",
            "--appendfsync",
            "everysec",
            "--dir",
            str(self.workdir),
            "--daemonize",
            "no",
            "--logfile",
            str(self.log_path),
            "--protected-mode",
            "yes",
        ]
        self.process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=self.own_session,
        )
        deadline = time.monotonic() + timeout
        while not _ping(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {self.process.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer PING within {timeout}s")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stats(self) -> dict:
        """INFO stats (opens, and counts, one connection of its own)."""
        import redis

        client = redis.Redis(host=self.host, port=self.port)
        try:
            return client.info("stats")
        finally:
            client.close()

    def kill(self) -> None:
        """kill -9, as a crash would."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

"""A cluster on loopback for tests: one Redis and N hub nodes sharing it and one set of secrets.

    from switchboard.router.testing.cluster import Cluster

    with Cluster.started(tmp_path, nodes=3) as cluster:
        a, b, c = cluster.hubs
        with a.client() as sub, b.backend_client() as pub:
            ...

Each node is a `Hub` (its own ports, directory and log); `cluster.redis` is the RedisServer.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from switchboard.router import settings as S
from switchboard.router.node.secrets import ensure_secrets
from switchboard.router.testing.hub import Hub
from switchboard.router.testing.redis_server import RedisServer


class Cluster:
    def __init__(self, workdir: Path, nodes: int = 3, *, env: dict[str, str] | None = None, **hub_kwargs):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.redis = RedisServer(self.workdir / "redis", durable=True)
        self.secrets_file = self.workdir / "secrets.env"
        ensure_secrets(self.secrets_file)  # before any node starts: they all take these
        node_env = {**(env or {}), S.ENV_REDIS_URL: self.redis.url}
        self.hubs = [
            Hub(self.workdir / f"node{i}", env=node_env, secrets_file=self.secrets_file, **hub_kwargs)
            for i in range(nodes)
        ]

    @classmethod
    @contextlib.contextmanager
    def started(cls, workdir: Path, nodes: int = 3, **kwargs) -> Iterator["Cluster"]:
        cluster = cls(workdir, nodes, **kwargs)
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()

    def start(self) -> None:
        self.redis.start()
        for hub in self.hubs:
            hub.start()

    def stop(self) -> None:
        for hub in self.hubs:
            try:
                hub.stop()
            except Exception:
                pass
        self.redis.stop()

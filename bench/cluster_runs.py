"""One fan-out or RPC measurement on nodes already running, through bench.peers_loadgen: what every row
of bench.cluster's run takes (the cluster rows, the layouts on one node)."""

from __future__ import annotations

import contextlib
import time

from switchboard.router import settings as S

from bench.peers import log, run_loadgen

TOPIC = "bench.fanout"
PROCEDURE = "bench.echo"


def bench_config() -> dict:
    """The app's config, with anonymous sessions (the load generator's) allowed to call, publish and
    subscribe under bench."""
    config = S.load_config(S.CONFIG_FILE)
    for role in S.router_worker(config)["realms"][0]["roles"]:
        if role["name"] == "anonymous":
            role["permissions"].append(
                {"uri": "bench.", "match": "prefix", "allow": {"call": True, "publish": True, "subscribe": True},
                 "cache": True}
            )  # fmt: skip
    return config


class Servers:
    """The processes whose CPU a run counts: every node's tree, and Redis."""

    def __init__(self, hubs, redis=None):
        self.hubs, self.redis = hubs, redis

    def cpu_pids(self) -> list[int]:
        pids = [hub.node.process.pid for hub in self.hubs if hub.node.running]
        if self.redis is not None and self.redis.process is not None:
            pids.append(self.redis.pid)
        return pids


def fanout(name: str, servers: Servers, urls: list[str], realm: str, args, cpu: int | None = None) -> dict:
    """One publisher on urls[0], args.subscribers spread round-robin over `urls`; `cpu`: the load
    generator's CPU (None: any)."""
    cfg = {
        "protocol": "wamp",
        "url": urls[0],
        "urls": urls,
        "realm": realm,
        "topic": TOPIC,
        "workload": "fanout",
        "subscribers": args.subscribers,
        "events": args.events,
        "seconds": args.seconds,
        "warmup": 20,
        "window": max(2, 2000 // args.subscribers),
        "unloaded_events": 20,
        "unloaded_seconds": 5,
        "paced_seconds": 0,
        "paced_fraction": 0.5,
        "payload_bytes": 64,
        "stall_timeout": 20,
        "timeout": 240,
        "server_pids": servers.cpu_pids(),
        "cpu": cpu,
    }
    r = run_loadgen(cfg, servers, timeout=260)
    if "error" in r:
        log(f"{name}: ERROR {r['error']}")
        return r
    # the loaded phase's server CPU (a share of one CPU over its wall time) per delivery
    share, rate = r.get("server_cpu_share"), r.get("deliveries_per_s")
    r["cpu_us_per_delivery"] = round(share / rate * 1e6, 2) if share and rate else None
    log(
        f"{name:<38} {rate or 0:>9,} deliveries/s  {r['cpu_us_per_delivery']} µs server CPU per delivery  "
        f"lost {r.get('lost')}  p50 {(r.get('latency_ms') or {}).get('p50')} ms"
    )
    return r


def rpc(name: str, servers: Servers, url: str, realm: str, concurrency: int, args, cpu: int | None = None) -> dict:
    """`concurrency` callers of PROCEDURE on `url`, one call in flight each, for args.rpc_seconds."""
    cfg = {
        "protocol": "wamp",
        "url": url,
        "realm": realm,
        "topic": TOPIC,
        "procedure": PROCEDURE,
        "workload": "rpc",
        "concurrency": concurrency,
        "seconds": args.rpc_seconds,
        "timeout": 120,
        "cpu": cpu,
    }
    r = run_loadgen(cfg, servers, timeout=140)
    if "error" in r:
        log(f"{name}: ERROR {r['error']}")
        return r
    log(
        f"{name:<22} C={concurrency:<3} {r['calls_per_s']:>8,.0f} calls/s  p50 {r['latency_ms']['p50']} "
        f"p99 {r['latency_ms']['p99']} ms  errors {r['errors']}"
    )
    return r


@contextlib.contextmanager
def echo_callee(hub, probe_hub=None, timeout: float = 20):
    """PROCEDURE registered by one backend session (in this process) on `hub`, returning its
    arguments; yields once a call through `probe_hub` (default `hub`) answers."""
    with hub.backend_client() as callee:
        callee.register(PROCEDURE, lambda *xs: list(xs))
        deadline = time.monotonic() + timeout
        with (probe_hub or hub).backend_client() as probe:
            while time.monotonic() < deadline:
                try:
                    probe.call(PROCEDURE, timeout=2)
                    break
                except Exception:  # not yet known on the probe's node (a cluster's registration travels)
                    time.sleep(0.2)
        yield callee

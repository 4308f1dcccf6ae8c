"""What a cluster loses, and what it keeps, while its Redis is away: kill -9 and clean restarts,
short and long, measured on a running 2-node cluster under a steady stream of events.

`python -m bench.cluster_outage [--quick] [--rate R] [--out DIR]` (`make bench-cluster-outage`).
For each outage (kind: `kill` is kill -9 of redis-server, `restart` its own clean shutdown; then
Redis starts again on its port, from its append-only file):

- events: a backend session on node A publishes, acknowledged, R events a second with a sequence
  number to a history topic; anonymous subscribers on A and on B, exact and prefix, each get a
  count of what was published during the outage, delivered, lost, duplicated and out of order, and
  how long after Redis answered again the first relayed event came (bench/outage_tally.py);
- presence: sessions on A and B in a room before the outage; one on B leaves during it and one on
  B tries to join every PROBE_INTERVAL; the roster as read on A, first after Redis is back and
  how long until it is right;
- history: which of the events are in history afterwards, and what recovery by the publication
  id of the last event before the outage returns;
- replay memory: ticket sign-ins and bridge publishes with an id on B, refused or accepted during
  the outage (tries begun after Redis was gone and ended before its restart began), and how long
  until the first is accepted again;
- calls: a procedure registered on A only, called from B with a WAMP timeout of CALL_TIMEOUT_S:
  what the caller gets during the outage and when it works again.

Results: bench/results/cluster_outage.json and cluster_outage.md (docs/scaling.md quotes them).
The machine's two cores run both nodes, Redis and this process: the times are this machine's.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions
from switchboard.bridge import tickets
from switchboard.bridge.client import HubClient
from switchboard.router import settings as S
from switchboard.router.client import Client, JoinError
from switchboard.router.testing.cluster import Cluster

from bench.cluster import bench_config
from bench.outage_tally import Published, first_at_or_after, tally
from bench.peers import log
from bench.peers_servers import LOADGEN_LIMITS

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"
TOPICS = "bench.outage."
PROCEDURE = "bench.outage.echo"
#: seconds between two tries of a probe (sign-in, bridge publish, call, join, roster read)
PROBE_INTERVAL = 0.25
#: the WAMP timeout of a probing call, in seconds: a forwarded call then fails as switchboard.error.timeout
CALL_TIMEOUT_S = 2.0
#: seconds of steady publishing before an outage, and after everything has recovered
STEADY_S = 2.0
#: seconds to wait, after Redis is back, for everything to recover before giving up on it
RECOVERY_S = 45.0
FULL = [("kill", 2.0), ("restart", 2.0), ("kill", 10.0), ("restart", 10.0)]
QUICK = [("kill", 2.0), ("restart", 2.0)]


def outage_config() -> dict:
    """bench.cluster's config (anonymous may subscribe, publish and call under bench.) with the bench
    topics in history, kept longer than any run."""
    config = bench_config()
    for component in S.router_worker(config)["components"]:
        if component.get("id") == "history":
            component["extra"]["topics"].append(
                {"uri": TOPICS, "match": "prefix", "max_events": 100000, "max_age": 3600}
            )
    return config


class Stamped(queue.Queue):
    """A subscription's queue that notes when each event arrived (and the last arrival)."""

    last = 0.0

    def put(self, item, block=True, timeout=None):
        self.last = now = time.monotonic()
        super().put((now, item), block, timeout)

    def drain(self) -> list:
        out = []
        while True:
            try:
                out.append(self.get_nowait())
            except queue.Empty:
                return out


class Loop(threading.Thread):
    """Runs `attempt` every `interval` until stopped; keeps (finished, ok, what) of each try."""

    def __init__(self, attempt, interval: float = PROBE_INTERVAL):
        super().__init__(daemon=True)
        self.attempt, self.interval = attempt, interval
        self.records: list[tuple[float, float, bool, object]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            started = time.monotonic()
            try:
                ok, what = self.attempt()
            except Exception as e:  # what a probe got is the measurement
                ok, what = False, describe(e)
            self.records.append((started, time.monotonic(), ok, what))
            self.halt.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def ok_since(self, t: float) -> bool:
        return any(ok and finished >= t for _, finished, ok, _ in list(self.records))

    def stop(self) -> None:
        self.halt.set()
        self.join(30)


def describe(e: BaseException) -> str:
    if isinstance(e, ApplicationError):
        return e.error
    if isinstance(e, JoinError):
        return e.reason
    return type(e).__name__


class Publisher(threading.Thread):
    """Acknowledged publishes at a fixed rate, each with its sequence number."""

    def __init__(self, client: Client, topic: str, rate: float):
        super().__init__(daemon=True)
        self.client, self.topic, self.rate = client, topic, rate
        self.records: list[Published] = []
        self.ack_s: list[tuple[float, float]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        t0 = time.monotonic()
        seq = 0
        while not self.halt.is_set():
            self.halt.wait(max(0.0, t0 + seq / self.rate - time.monotonic()))
            sent = time.monotonic()
            try:
                self.client.publish(self.topic, {"seq": seq, "text": f"e{seq}"})
                acked = True
            except Exception:
                acked = False
            self.records.append(Published(seq, sent, acked))
            self.ack_s.append((sent, time.monotonic() - sent))
            seq += 1

    def stop(self) -> None:
        self.halt.set()
        self.join(30)


def summarize(loop: Loop, gone: float, restarting: float, up: float) -> dict:
    """A probe's tries during the outage by outcome, and when it was first accepted again.

    During means wholly while Redis was down: begun after it was gone and ended before its restart
    began. A try that overlaps the restart may reach the new Redis and be checked, rightly accepted."""
    during = collections.Counter(
        "accepted" if ok else str(what) for s, f, ok, what in loop.records if gone <= s and f < restarting
    )
    after = first_at_or_after([(finished, ok) for _, finished, ok, _ in loop.records], up)
    first_after = next(((ok, what) for s, _, ok, what in loop.records if s >= up), None)
    return {
        "during_outage": dict(during),
        "refused_during_outage": sum(n for k, n in during.items() if k != "accepted"),
        "accepted_during_outage": during.get("accepted", 0),
        "first_try_after_redis_back": first_after and ("accepted" if first_after[0] else first_after[1]),
        "accepted_again_after_ms": None if after is None else round(after * 1000, 1),
    }


class Scenario:
    """One outage, with its stream, subscribers and probes, on the cluster's nodes A and B."""

    def __init__(self, cluster: Cluster, kind: str, seconds: float, rate: float):
        self.cluster, self.kind, self.seconds, self.rate = cluster, kind, seconds, rate
        self.name = f"{kind} {seconds:g} s"
        self.topic = f"{TOPICS}{kind}{int(seconds)}"
        self.room = f"outage-{kind}{int(seconds)}"
        self.clients: list[Client] = []

    def client(self, hub, backend: bool = False) -> Client:
        c = hub.backend_client() if backend else hub.client()
        self.clients.append(c)
        return c

    def subscribe(self, hub, match: str | None) -> Stamped:
        sub = self.client(hub).subscribe(self.topic if match is None else TOPICS, match=match)
        sub.events = Stamped()
        return sub.events

    def run(self) -> dict:
        a, b = self.cluster.hubs[:2]
        redis = self.cluster.redis
        subs = {
            "node A, exact": self.subscribe(a, None),
            "node A, prefix": self.subscribe(a, "prefix"),
            "node B, exact": self.subscribe(b, None),
            "node B, prefix": self.subscribe(b, "prefix"),
        }
        stay_a, stay_b, leaver = self.client(a), self.client(b), self.client(b)
        for c, nick in ((stay_a, "stay-a"), (stay_b, "stay-b"), (leaver, "leave-b")):
            c.call("presence.join", self.room, nick)
        expected = {"stay-a", "stay-b", "join-b"}
        watcher, caller = self.client(a), self.client(b, backend=True)
        bridge = HubClient(b.bridge_url, b.bridge_key, b.bridge_secret, retries=0, timeout=5)
        joiner = self.client(b)
        joined = threading.Event()
        counter = iter(range(10**9))

        def sign_in():
            Client(b.url, b.realm, ticket=tickets.mint(b.ticket_secret, "outage")).close()
            return True, "accepted"

        def bridge_publish():
            bridge.publish_event(f"{TOPICS}bridge", [1], id=f"{self.topic}-{next(counter)}")
            return True, "accepted"

        def call():
            wamp_timeout = CallOptions(timeout=int(CALL_TIMEOUT_S * 1000))
            caller.call(PROCEDURE, 1, options=wamp_timeout, timeout=CALL_TIMEOUT_S + 5)
            return True, "accepted"

        def join():
            if joined.is_set():
                return True, "joined"
            joiner.call("presence.join", self.room, "join-b")
            joined.set()
            return True, "accepted"

        def roster():
            nicks = {m["nick"] for m in watcher.call("presence.list", self.room)}
            return nicks == expected, sorted(nicks)

        probes = {"ticket": Loop(sign_in), "bridge": Loop(bridge_publish), "rpc": Loop(call)}
        roster_loop = Loop(roster)
        publisher = Publisher(self.client(a, backend=True), self.topic, self.rate)
        logs_before = [hub.log_text().count("Traceback") for hub in (a, b)]
        publisher.start()
        wait(lambda: all(q.last for q in subs.values()), 20, "the stream reaching every subscriber")
        for loop in (*probes.values(), roster_loop):
            loop.start()
        time.sleep(STEADY_S)  # the steady stream before the outage is part of the measurement
        pre_outage_pub = last_publication(subs["node A, exact"])
        down = time.monotonic()
        redis.kill() if self.kind == "kill" else redis.stop()
        gone = time.monotonic()
        join_loop = Loop(join)
        join_loop.start()
        time.sleep(self.seconds / 2)
        leaver.close()
        time.sleep(max(0.0, down + self.seconds - time.monotonic()))
        restarting = time.monotonic()
        redis.start()
        up = time.monotonic()
        log(f"{self.name}: Redis back after {up - down:.1f} s")

        def recovered():
            return (
                all(subs[n].last >= up for n in ("node B, exact", "node B, prefix"))
                and all(loop.ok_since(up) for loop in probes.values())
                and roster_loop.ok_since(up)
            )

        recovered_in = wait(recovered, RECOVERY_S, None)
        time.sleep(STEADY_S)
        publisher.stop()
        for loop in (*probes.values(), roster_loop, join_loop):
            loop.stop()
        settle(subs.values())
        received = {n: [(t, e.args[0]["seq"]) for t, e in q.drain() if e.topic == self.topic] for n, q in subs.items()}
        result = {
            "kind": self.kind,
            "outage_s": round(up - down, 2),
            "rate_per_s": self.rate,
            "everything_recovered_after_ms": None if recovered_in is None else round(recovered_in * 1000, 1),
            "publishes": self.publishes(publisher, down, up),
            "subscribers": {name: tally(publisher.records, got, down, up) for name, got in received.items()},
            "presence": self.presence(join_loop, roster_loop, down, up, expected),
            "history": self.history(watcher, publisher.records, pre_outage_pub, down, up),
            "tickets": summarize(probes["ticket"], gone, restarting, up),
            "bridge": summarize(probes["bridge"], gone, restarting, up),
            "rpc": summarize(probes["rpc"], gone, restarting, up),
            "tracebacks_in_node_logs": [hub.log_text().count("Traceback") - n for hub, n in zip((a, b), logs_before)],
        }
        bridge.close()
        return result

    @staticmethod
    def publishes(publisher: Publisher, down: float, up: float) -> dict:
        during = [s for t, s in publisher.ack_s if down <= t < up]
        return {
            "published": len(publisher.records),
            "refused": sum(1 for p in publisher.records if not p.acked),
            "slowest_ack_during_outage_ms": round(max(during, default=0) * 1000, 1),
        }

    @staticmethod
    def presence(join_loop: Loop, roster_loop: Loop, down: float, up: float, expected: set) -> dict:
        refused = collections.Counter(str(w) for s, _, ok, w in join_loop.records if not ok and s < up)
        joined = next((f for _, f, ok, _ in join_loop.records if ok), None)
        first = next(((ok, w) for s, _, ok, w in roster_loop.records if s >= up and isinstance(w, list)), None)
        right = first_at_or_after([(f, ok) for _, f, ok, _ in roster_loop.records], up)
        return {
            "expected": sorted(expected),
            "join_refused_during_outage": dict(refused),
            "join_accepted_after_redis_back_ms": None if joined is None else round((joined - up) * 1000, 1),
            "first_roster_after_redis_back": None if first is None else first[1],
            "first_roster_right": None if first is None else first[0],
            "roster_right_after_ms": None if right is None else round(right * 1000, 1),
        }

    def history(self, client: Client, records: list[Published], after_pub, down: float, up: float) -> dict:
        stored, since = [], 0
        while True:
            page = client.call("history.get", self.topic, since=since, limit=1000)
            stored += [e["args"][0]["seq"] for e in page["events"]]
            if not page["events"] or page["events"][-1]["position"] >= page["last"]:
                break
            since = page["events"][-1]["position"]
        kept = set(stored)
        acked = [p for p in records if p.acked]
        before = [p.seq for p in acked if p.sent < down]
        during = [p.seq for p in acked if down <= p.sent < up]
        after = [p.seq for p in acked if p.sent >= up]
        recovery = client.call("history.get", self.topic, after_publication=after_pub, limit=1000)
        recovered = [e["args"][0]["seq"] for e in recovery["events"]]
        return {
            "published_before_kept": sum(s in kept for s in before),
            "published_before": len(before),
            "published_during_kept": sum(s in kept for s in during),
            "published_during": len(during),
            "published_after_kept": sum(s in kept for s in after),
            "published_after": len(after),
            "duplicated": len(stored) - len(kept),
            "recovery_by_publication_id": {
                "events": len(recovered),
                "outage_events_in_it": len(set(recovered) & set(during)),
                "gap": recovery["gap"],
            },
        }


def last_publication(q: Stamped) -> int:
    """The publication id of the newest event `q` got so far (its events stay queued)."""
    events = q.drain()
    for item in events:
        q.queue.append(item)
    return events[-1][1].publication


def settle(queues, quiet: float = 1.0, most: float = 15.0) -> None:
    """Until no subscriber got anything for `quiet` seconds (what was in flight has arrived)."""
    deadline = time.monotonic() + most
    while time.monotonic() < deadline and time.monotonic() - max(q.last for q in queues) < quiet:
        time.sleep(0.1)


def wait(predicate, timeout: float, what: str | None) -> float | None:
    """Seconds until `predicate` held; past `timeout`, None (or TimeoutError when `what` names it)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if predicate():
            return time.monotonic() - t0
        time.sleep(0.05)
    if what:
        raise TimeoutError(f"{what}: not within {timeout} s")
    return None


def run(args) -> dict:
    results = {"machine": {"cpus": len(os.sched_getaffinity(0))}, "nodes": 2, "scenarios": {}}
    with tempfile.TemporaryDirectory(prefix="sb-bench-outage-") as tmp:
        with Cluster.started(Path(tmp), nodes=2, config=outage_config(), env=dict(LOADGEN_LIMITS)) as cluster:
            a, b = cluster.hubs
            with a.backend_client() as callee, b.backend_client() as probe:
                callee.register(PROCEDURE, lambda *xs: list(xs))
                wait(lambda: answers(probe), 20, f"{PROCEDURE} callable from node B")
                for kind, seconds in args.scenarios:
                    scenario = Scenario(cluster, kind, seconds, args.rate)
                    try:
                        results["scenarios"][scenario.name] = scenario.run()
                    finally:
                        for c in scenario.clients:
                            c.close()
                    log(f"{scenario.name}: {json.dumps(results['scenarios'][scenario.name]['subscribers'])[:400]}")
    return results


def answers(client: Client) -> bool:
    try:
        client.call(PROCEDURE, timeout=2)
        return True
    except Exception:
        return False


def render(results: dict) -> str:
    lines = [
        "# Redis away from a cluster (bench/cluster_outage.py)",
        "",
        f"{results['nodes']} nodes, {results['machine']['cpus']} CPUs shared by the nodes, Redis and the clients; "
        "events published on node A, acknowledged, at a fixed rate.",
        "",
        "| outage | subscriber | published during | delivered during | delivered after | lost | duplicated "
        "| out of order | longest silence (ms) | first event after Redis back (ms) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results["scenarios"].items():
        for sub, t in r["subscribers"].items():
            lines.append(
                f"| {name} | {sub} | {t['published_during_outage']} | {t['outage_events_delivered_during_outage']} | "
                f"{t['outage_events_delivered_after_redis_back']} | {t['lost']} | {t['duplicated']} | "
                f"{t['out_of_order']} | {t['longest_silence_during_outage_ms']} | "
                f"{t['first_delivery_after_redis_back_ms']} |"
            )
    lines += [
        "",
        "| outage | tickets refused / accepted during | ticket ok again (ms) | bridge refused / accepted during "
        "| bridge ok again (ms) | call from B during | call ok again (ms) |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for name, r in results["scenarios"].items():
        t, br, rpc = r["tickets"], r["bridge"], r["rpc"]
        lines.append(
            f"| {name} | {t['refused_during_outage']} / {t['accepted_during_outage']} | "
            f"{t['accepted_again_after_ms']} | "
            f"{br['refused_during_outage']} / {br['accepted_during_outage']} | {br['accepted_again_after_ms']} | "
            f"{fmt(rpc['during_outage'])} | {rpc['accepted_again_after_ms']} |"
        )
    lines += [
        "",
        "| outage | join on B during | roster first read after | right at once | right after (ms) "
        "| history: before / during / after kept | recovery by publication id: events, outage events, gap |",
        "|---|---|---|---|---:|---|---|",
    ]
    for name, r in results["scenarios"].items():
        p, h = r["presence"], r["history"]
        rec = h["recovery_by_publication_id"]
        lines.append(
            f"| {name} | {fmt(p['join_refused_during_outage'])} | "
            f"{', '.join(p['first_roster_after_redis_back'] or [])} "
            f"| {p['first_roster_right']} | {p['roster_right_after_ms']} | "
            f"{h['published_before_kept']}/{h['published_before']}, "
            f"{h['published_during_kept']}/{h['published_during']}, "
            f"{h['published_after_kept']}/{h['published_after']} | {rec['events']}, {rec['outage_events_in_it']}, "
            f"{rec['gap']} |"
        )
    return "\n".join(lines) + "\n"


def fmt(counts: dict) -> str:
    return ", ".join(f"{k} ×{n}" for k, n in sorted(counts.items())) or "none"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two short outages at a lower rate")
    parser.add_argument("--rate", type=float, default=200.0, help="events published a second")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.scenarios = QUICK if args.quick else FULL
    if args.quick:
        args.rate = min(args.rate, 100.0)
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cluster_outage.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "cluster_outage.md").write_text(render(results))
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

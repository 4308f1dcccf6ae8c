"""router/cluster/replay.py against a real Redis, without a hub: its answers, one round trip per
burst, and an outage (refused at once, recovered) with one line each way."""

import queue
import time

import pytest
from switchboard.router.cluster import claims
from switchboard.router.cluster import replay as R
from switchboard.router.testing.redis_server import RedisServer


class Reactor:
    """What SharedReplay needs of a reactor: calls from its thread, run here by `run_until`."""

    def __init__(self):
        self.calls = queue.Queue()

    def callFromThread(self, f, *args, **kwargs):
        self.calls.put((f, args, kwargs))

    def run_until(self, done, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not done():
            f, args, kwargs = self.calls.get(timeout=max(0.01, deadline - time.monotonic()))
            f(*args, **kwargs)


class Log:
    def __init__(self):
        self.lines = []

    def warn(self, fmt, **kwargs):
        self.lines.append(("warn", fmt.format(**kwargs)))

    def info(self, fmt, **kwargs):
        self.lines.append(("info", fmt.format(**kwargs)))


@pytest.fixture
def memory(tmp_path, monkeypatch):
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    log = Log()
    monkeypatch.setattr(R, "log", log)
    reactor = Reactor()
    shared = R.SharedReplay(redis.url, reactor=reactor)
    shared.log, shared.test_reactor, shared.redis = log, reactor, redis
    try:
        yield shared
    finally:
        shared.stop()
        redis.stop()


NOTHING = object()


def results(memory, deferreds):
    out = [NOTHING] * len(deferreds)
    for i, d in enumerate(deferreds):
        d.addBoth(lambda r, i=i: out.__setitem__(i, r))
    memory.test_reactor.run_until(lambda: all(r is not NOTHING for r in out))
    return out


def test_first_use_and_id_claims_answer_as_the_rules_say_in_one_round_trip(memory):
    answers = results(
        memory,
        [
            memory.first_use("k:ticket:1", 60),
            memory.first_use("k:ticket:1", 60),
            memory.claim_id("k:id:1"),
            memory.claim_id("k:id:1"),
        ],
    )
    assert answers == [True, False, claims.NEW, claims.PENDING]
    before = memory.round_trips
    assert all(results(memory, [memory.first_use(f"k:burst:{i}", 60) for i in range(200)]))
    assert memory.round_trips - before <= 5, "a burst goes in a few pipelines, not one round trip each"
    results(memory, [memory.id_done("k:id:1", 60), memory.claim_id("k:id:2")])
    assert results(memory, [memory.claim_id("k:id:1"), memory.release_id("k:id:2")])[0] == claims.DONE
    assert results(memory, [memory.claim_id("k:id:2")]) == [claims.NEW], "a released id may be published"


def test_redis_gone_refuses_at_once_logs_once_and_recovers(memory):
    memory.redis.stop()
    failures = results(memory, [memory.first_use(f"k:n:{i}", 60) for i in range(3)])
    assert all(f.check(claims.ReplayUnavailable) for f in failures)
    assert "unreachable" in failures[0].getErrorMessage()
    refused_at_once = memory.first_use("k:n:x", 60)
    assert refused_at_once.called, "within the retry delay nothing waits for Redis"
    refused_at_once.addErrback(lambda f: None)
    for _ in range(3):
        time.sleep(claims.RETRY_SECONDS)  # the retry delay itself is what is tested here
        results(memory, [memory.first_use("k:n:y", 60)])
    memory.redis.start()
    time.sleep(claims.RETRY_SECONDS)
    assert results(memory, [memory.first_use("k:n:z", 60)]) == [True]
    memory.test_reactor.run_until(lambda: len(memory.log.lines) >= 2)
    kinds = [kind for kind, _ in memory.log.lines]
    assert kinds == ["warn", "info"], memory.log.lines

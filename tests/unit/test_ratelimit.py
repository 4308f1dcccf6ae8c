"""switchboard.bridge.ratelimit: the token bucket and the per-address table, driven by a fake clock (no sleeps)."""

import math

import pytest
from switchboard.bridge.ratelimit import OVER_OPEN, OVER_RATE, AddressTable, TokenBucket


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_passes_a_burst_then_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=5, clock=clock)
    assert [bucket.try_take() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 0.49
    assert not bucket.try_take()
    clock.now += 0.01  # half a second at 2/s: one token
    assert bucket.try_take()
    assert not bucket.try_take()


def test_refill_stops_at_the_burst():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=3, clock=clock)
    assert bucket.try_take(3)
    clock.now += 3600
    assert bucket.tokens() == 3
    assert bucket.try_take(3) and not bucket.try_take()


def test_a_refused_take_takes_nothing():
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=4, clock=clock)
    assert bucket.try_take(3)
    assert not bucket.try_take(2)
    assert bucket.tokens() == 1
    assert bucket.try_take(1)


def test_more_than_the_burst_never_passes():
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=2, clock=clock)
    assert not bucket.try_take(3)
    assert bucket.seconds_until(3) == math.inf


def test_is_full_and_seconds_until():
    clock = FakeClock()
    bucket = TokenBucket(rate=4, burst=2, clock=clock)
    assert bucket.is_full() and bucket.seconds_until() == 0
    bucket.try_take(2)
    assert not bucket.is_full()
    assert bucket.seconds_until(1) == pytest.approx(0.25)
    clock.now += 0.5
    assert bucket.is_full()


def test_a_clock_going_backwards_adds_nothing():
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    assert bucket.try_take()
    clock.now -= 10
    assert not bucket.try_take()
    clock.now += 10.5
    assert not bucket.try_take()  # only half a second past the last reading that counted
    clock.now += 0.5
    assert bucket.try_take()


@pytest.mark.parametrize("rate, burst", [(0, 1), (1, 0), (-1, 5), (math.nan, 1)])
def test_unusable_parameters_are_refused(rate, burst):
    with pytest.raises(ValueError):
        TokenBucket(rate=rate, burst=burst)


def table(max_open=2, rate=1.0, burst=2.0, clock=None):
    return AddressTable(max_open, rate, burst, clock=clock or FakeClock(), log_interval=10)


def test_the_table_limits_open_connections_per_address():
    t = table(max_open=2, rate=0)
    assert t.admit("a") is None and t.admit("a") is None
    assert t.admit("a") == OVER_OPEN
    assert t.admit("b") is None  # another address has its own count
    t.release("a")
    assert t.admit("a") is None and t.open_count("a") == 2


def test_the_table_limits_the_connect_rate_per_address():
    clock = FakeClock()
    t = table(max_open=0, rate=1, burst=2, clock=clock)
    assert [t.admit("a") for _ in range(3)] == [None, None, OVER_RATE]
    assert t.admit("b") is None
    clock.now += 1
    assert t.admit("a") is None and t.admit("a") == OVER_RATE


def test_a_refusal_over_the_open_limit_takes_no_token():
    clock = FakeClock()
    t = table(max_open=1, rate=1, burst=1, clock=clock)
    assert t.admit("a") is None
    clock.now += 1  # the bucket is full again
    assert [t.admit("a") for _ in range(5)] == [OVER_OPEN] * 5
    t.release("a")
    assert t.admit("a") is None


def test_refusals_are_reported_once_per_window_with_their_count():
    clock = FakeClock()
    t = table(max_open=1, rate=1, burst=1, clock=clock)
    t.admit("a")
    for _ in range(3):
        t.admit("a")  # over the open limit
    t.release("a")
    t.admit("a")
    t.admit("a")  # over the rate: the bucket's one token went to the first connection
    clock.now += 9.9
    assert t.sweep() == []
    clock.now += 0.1
    [report] = t.sweep()
    assert (report.address, report.over_open, report.over_rate) == ("a", 3, 2)
    assert t.sweep() == []  # counted from zero again
    assert t.admit("a") is None and t.admit("a") == OVER_OPEN
    clock.now += 10
    assert [(r.over_open, r.over_rate) for r in t.sweep()] == [(1, 0)]


def test_idle_addresses_are_dropped():
    clock = FakeClock()
    t = table(max_open=5, rate=1, burst=2, clock=clock)
    for i in range(1000):  # a scan: one connection from each of many addresses, closed again
        address = f"10.0.{i // 256}.{i % 256}"
        assert t.admit(address) is None
        t.release(address)
    assert len(t) == 1000  # their buckets are still refilling
    clock.now += 1
    t.sweep()
    assert len(t) == 0
    t.admit("a")
    t.admit("a")
    t.release("a")
    t.release("a")
    t.release("a")  # one too many: ignored
    clock.now += 2  # full again, but nothing looks until a sweep
    t.sweep()
    assert len(t) == 0


def test_an_address_with_open_connections_or_unreported_refusals_is_kept():
    clock = FakeClock()
    t = table(max_open=1, rate=0, clock=clock)
    t.admit("held")
    t.admit("held")  # refused
    clock.now += 3600
    t.sweep()
    assert t.open_count("held") == 1 and len(t) == 1
    t.release("held")
    assert len(t) == 0  # idle at once: no bucket, nothing to report
    t.admit("once")
    t.release("once")
    assert len(t) == 0


def test_a_closed_connection_with_a_full_bucket_is_dropped_at_once():
    clock = FakeClock()
    t = table(max_open=0, rate=10, burst=1, clock=clock)
    t.admit("a")
    clock.now += 1
    t.release("a")
    assert len(t) == 0

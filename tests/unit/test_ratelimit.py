"""bridge.ratelimit: the token bucket, driven by a fake clock (no sleeps)."""

import math

import pytest

from bridge.ratelimit import TokenBucket


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

"""The table of held PUBLISHED replies (router/patches/durable_ack.py): release, timeout, unknown ids, and
the patched filter deciding what is held. Pure: clock and timer injected, no reactor, no crossbar."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from switchboard.router.patches import durable_ack
from switchboard.router.patches.durable_ack import DurableAcks, PendingAcks


def test_release_returns_held_items_in_the_order_asked_and_skips_unknown_ids():
    table = PendingAcks(timeout=5)
    for key in (1, 2, 3):
        assert table.hold(key, f"ack{key}", now=0)
    assert table.release([3, 99, 1]) == ["ack3", "ack1"]
    assert table.release([1]) == []  # released once only
    assert len(table) == 1 and table.drain() == ["ack2"] and len(table) == 0


def test_a_key_is_held_once():
    table = PendingAcks(timeout=5)
    assert table.hold(7, "first", now=0)
    assert not table.hold(7, "second", now=1)
    assert table.release([7]) == ["first"]


def test_expire_gives_what_is_past_its_deadline_oldest_first():
    table = PendingAcks(timeout=5)
    table.hold("a", 1, now=0)
    table.hold("b", 2, now=1)
    table.hold("c", 3, now=2)
    assert table.next_deadline() == 5
    assert table.expire(now=4.9) == []
    table.release(["a"])
    assert table.next_deadline() == 6
    assert table.expire(now=6) == [2]
    assert table.expire(now=100) == [3] and table.next_deadline() is None


class Timer:
    def __init__(self, delay, fn):
        self.delay, self.fn, self.cancelled = delay, fn, False

    def active(self):
        return not self.cancelled

    def cancel(self):
        self.cancelled = True


class Clock:
    """A manual clock whose call_later records the timers it is asked for."""

    def __init__(self):
        self.now, self.timers = 0.0, []

    def __call__(self):
        return self.now

    def call_later(self, delay, fn):
        timer = Timer(delay, fn)
        timer.at = self.now + delay
        self.timers.append(timer)
        return timer

    def run_next(self):
        timer = self.timers.pop(0)
        self.now = timer.at
        timer.fn()


def published(publication, request=1, topic="chat.room.x"):
    return SimpleNamespace(publication=publication, request=request, correlation_uri=topic)


@pytest.fixture
def acks():
    clock, sent = Clock(), []
    acks = DurableAcks(
        "router",
        "history-session",
        send=lambda router, session, msg: sent.append((session, msg)),
        clock=clock,
        call_later=clock.call_later,
        timeout=5,
    )
    acks.clock, acks.sent = clock, sent
    return acks


def test_held_replies_go_out_when_released(acks):
    a, b = published(10), published(11)
    assert acks.hold("alice", a) and acks.hold("bob", b)
    assert acks.sent == []
    acks.release([11, 12345])  # an id never held (not acknowledged, or already timed out) is skipped
    assert acks.sent == [("bob", b)]
    acks.release([10])
    assert acks.sent == [("bob", b), ("alice", a)] and len(acks) == 0


def test_a_reply_never_released_goes_out_after_the_timeout_with_one_log_line(acks, monkeypatch):
    logged = []
    monkeypatch.setattr(durable_ack.log, "observer", logged.append)
    acks.hold("alice", published(1))
    acks.clock.now = 2
    acks.hold("bob", published(2))
    (timer,) = acks.clock.timers
    assert timer.delay == 5
    acks.clock.run_next()  # at 5: the first only
    assert [s for s, _ in acks.sent] == ["alice"]
    acks.clock.run_next()  # at 7: the second
    assert [s for s, _ in acks.sent] == ["alice", "bob"] and acks.clock.timers == [] and len(acks) == 0
    assert [(e["log_level"].name, e["n"]) for e in logged] == [("warn", 1), ("warn", 1)]


def test_sweeps_come_at_most_once_a_second(acks, monkeypatch):
    logged = []
    monkeypatch.setattr(durable_ack.log, "observer", logged.append)
    acks.hold("a", published(1))
    acks.clock.now = 0.5
    acks.hold("b", published(2))
    acks.clock.run_next()  # at 5: "a"; "b" is due at 5.5
    assert [s for s, _ in acks.sent] == ["a"]
    assert acks.clock.timers[0].at == 6  # not 5.5: one sweep (and line) a second at most
    acks.clock.run_next()
    assert [s for s, _ in acks.sent] == ["a", "b"] and len(logged) == 2


def test_close_sends_everything_held_and_stops_the_timer(acks):
    acks.hold("alice", published(1))
    acks.hold("bob", published(2))
    timer = acks.clock.timers[0]
    acks.close()
    assert [s for s, _ in acks.sent] == ["alice", "bob"] and timer.cancelled and len(acks) == 0


class FakeRouter:
    """Stands for Crossbar's Router: a class-level send, and an instance __dict__ to arm."""

    def __init__(self):
        self.sent = []

    def send(self, session, msg):
        self.sent.append((session, msg))


@pytest.fixture
def patched(monkeypatch, acks):
    """The module's filter wrapper over a fake stock filter, with `acks` attached to a FakeRouter."""
    router, filtered = FakeRouter(), {}
    monkeypatch.setattr(
        durable_ack, "_stock_filter", lambda broker, receivers, publish: filtered.get(id(publish), receivers)
    )
    monkeypatch.setattr(durable_ack, "_Published", SimpleNamespace)
    monkeypatch.setattr(durable_ack, "_by_router", {router: acks})
    acks.router = router
    return SimpleNamespace(router=router, filtered=filtered, broker=SimpleNamespace(_router=router), acks=acks)


def publish(request=1, topic="chat.room.x", acknowledge=True):
    return SimpleNamespace(request=request, topic=topic, acknowledge=acknowledge)


def test_the_published_of_an_acknowledged_publish_history_receives_is_held(patched):
    router, p = patched.router, publish(request=4)
    assert durable_ack.filter_receivers(patched.broker, {"history-session", "browser"}, p) == {
        "history-session",
        "browser",
    }
    durable_ack.filter_receivers(patched.broker, {"history-session"}, p)  # a second matching subscription
    router.send("browser", "EVENT")  # anything but a PUBLISHED goes out as ever
    reply = published(77, request=4)
    router.send("publisher", reply)
    assert router.sent == [("browser", "EVENT")] and len(patched.acks) == 1
    assert "send" not in router.__dict__  # disarmed: later sends are Crossbar's own again
    patched.acks.release([77])
    assert patched.acks.sent == [("publisher", reply)]


@pytest.mark.parametrize("case", ["history filtered out", "not acknowledged", "other router", "other request"])
def test_every_other_published_goes_out_at_once(patched, case):
    router, p = patched.router, publish(request=4, acknowledge=case != "not acknowledged")
    if case == "history filtered out":  # e.g. eligible/exclude options that leave the history component out
        patched.filtered[id(p)] = {"browser"}
    broker = SimpleNamespace(_router=FakeRouter()) if case == "other router" else patched.broker
    durable_ack.filter_receivers(broker, {"history-session", "browser"}, p)
    reply = published(77, request=5 if case == "other request" else 4)
    router.send("publisher", reply)
    assert router.sent == [("publisher", reply)] and len(patched.acks) == 0
    assert "send" not in router.__dict__


def test_nothing_is_held_once_the_history_component_has_left(patched):
    durable_ack.filter_receivers(patched.broker, {"history-session"}, publish())
    patched.acks.close()  # left between the filtering and the PUBLISHED
    patched.router.send("publisher", published(1))
    durable_ack.filter_receivers(patched.broker, {"history-session"}, publish())
    patched.router.send("publisher", published(2))
    assert [m.publication for _, m in patched.router.sent] == [1, 2]


def test_attach_needs_the_install_and_a_router_component(monkeypatch):
    monkeypatch.setattr(durable_ack, "_by_router", {})
    session = SimpleNamespace(_transport=SimpleNamespace(_router="r"))
    monkeypatch.setattr(durable_ack, "_installed", False)
    assert durable_ack.attach(session) is None
    monkeypatch.setattr(durable_ack, "_installed", True)
    assert durable_ack.attach(SimpleNamespace(_transport=None)) is None  # not inside a router
    first = durable_ack.attach(session)
    assert first.session is session and durable_ack._by_router == {"r": first}
    second = durable_ack.attach(session)  # a rejoin replaces it
    assert durable_ack._by_router == {"r": second}

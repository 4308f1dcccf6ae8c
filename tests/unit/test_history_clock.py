"""History and the bridge's call timer run on an injected clock: age retention, the cap's paced log
line and a bridged call's timeout, driven by twisted.internet.task.Clock instead of waiting."""

from __future__ import annotations

from types import SimpleNamespace

from switchboard.bridge import protocol as P
from switchboard.bridge.signing import Verifier
from switchboard.router.services.bridge_http import BridgeResource
from switchboard.router.services.history import CAP_LOG_INTERVAL, History
from switchboard.router.services.history_policy import HistoryPolicy
from switchboard.router.services.history_store import HistoryStore
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import Clock


def history(tmp_path, clock) -> History:
    """A History with its store and clock, not joined to a router (its writing parts run inline)."""
    h = History.__new__(History)
    h.clock = clock
    h._policy = HistoryPolicy([{"uri": "chat.room.", "match": "prefix", "max_events": 100, "max_age": 60}])
    h._store = HistoryStore(tmp_path / "history.sqlite3")
    h._max_topics, h._max_bytes = 1000, 1 << 30
    h._capped_line_at, h._evictions = None, 0
    return h


def test_events_are_stamped_and_aged_out_by_the_clock(tmp_path):
    clock = Clock()
    h = history(tmp_path, clock)
    clock.advance(1000)
    h._store.append_many([("chat.room.a", 1, clock.seconds(), ["old"], {})])
    clock.advance(50)
    h._store.append_many([("chat.room.a", 2, clock.seconds(), ["new"], {})])
    h._trim(["chat.room.a"])
    assert [e.args for e in h._store.read("chat.room.a")] == [["old"], ["new"]]  # both younger than 60 s
    clock.advance(20)  # "old" is 70 s old now, "new" 20 s
    h._trim(["chat.room.a"])
    assert [e.args for e in h._store.read("chat.room.a")] == [["new"]]


def test_the_caps_line_is_logged_once_an_interval(tmp_path, monkeypatch):
    clock, lines = Clock(), []
    h = history(tmp_path, clock)
    monkeypatch.setattr("switchboard.router.services.history.log.warn", lambda fmt, **kw: lines.append(kw))
    evicted = SimpleNamespace(topics=3)
    h._evicted(evicted)
    clock.advance(CAP_LOG_INTERVAL - 1)
    h._evicted(evicted)
    assert [line["n"] for line in lines] == [3]
    clock.advance(1)
    h._evicted(evicted)
    assert [line["n"] for line in lines] == [3, 6]  # the evictions since the last line


class HangingSession:
    """A callee that never answers; a cancel is recorded."""

    def __init__(self):
        self.cancelled = []

    def call(self, procedure, *args, **kwargs):
        return Deferred(canceller=lambda d: self.cancelled.append(procedure))


def test_a_bridged_call_times_out_on_the_clock_and_is_cancelled():
    clock, session = Clock(), HangingSession()
    resource = BridgeResource(Verifier({"k": "s" * 32}), lambda: session, clock=clock)
    answer = ensureDeferred(resource._call(session, P.CallRequest("slow.proc", [], {}, 2.5), Deferred()))
    clock.advance(2.4)
    assert not answer.called and session.cancelled == []
    clock.advance(0.1)
    status, body = answer.result
    assert status == 504 and body["error"] == P.TIMEOUT and session.cancelled == ["slow.proc"]

# ruff: noqa: E402  (txaio picks Twisted before anything imports Autobahn)
"""Cases for tests/unit/test_history_clock.py, each run in a fresh interpreter on Twisted
(`python -m tests.unit.clock_cases <case>`), as the router worker runs History and the bridge: the
test process runs the asyncio client. A case exits 0 when its checks pass."""

import sys

import txaio

txaio.use_twisted()


from types import SimpleNamespace

from switchboard.bridge import protocol as P
from switchboard.bridge.signing import Verifier
from switchboard.router.services import history as history_module
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


def check_events_are_stamped_and_aged_out_by_the_clock(tmp_path):
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


def check_the_caps_line_is_logged_once_an_interval(tmp_path):
    clock, lines = Clock(), []
    h = history(tmp_path, clock)
    history_module.log.warn = lambda fmt, **kw: lines.append(kw)
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


def check_a_bridged_call_times_out_on_the_clock_and_is_cancelled():
    clock, session = Clock(), HangingSession()
    resource = BridgeResource(Verifier({"k": "s" * 32}), lambda: session, clock=clock)
    answer = ensureDeferred(resource._call(session, P.CallRequest("slow.proc", [], {}, 2.5), Deferred()))
    clock.advance(2.4)
    assert not answer.called and session.cancelled == []
    clock.advance(0.1)
    status, body = answer.result
    assert status == 504 and body["error"] == P.TIMEOUT and session.cancelled == ["slow.proc"]


CASES = {
    "aged_out": check_events_are_stamped_and_aged_out_by_the_clock,
    "cap_line": check_the_caps_line_is_logged_once_an_interval,
    "call_timeout": check_a_bridged_call_times_out_on_the_clock_and_is_cancelled,
}


def main(case: str, tmp: str) -> None:
    from pathlib import Path

    check = CASES[case]
    check(Path(tmp)) if check.__code__.co_argcount else check()


if __name__ == "__main__":
    main(*sys.argv[1:])

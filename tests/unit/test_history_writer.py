"""The history component's writer loop (router/services/history.py), without a router: group commits, and
acknowledgements let go once their batch is committed, or has failed. Run in a fresh interpreter on
Twisted, as the router worker does (switchboard.router.services.history imports autobahn.twisted)."""

from tests.fresh_python import run_code

CHECKS = """
import txaio
txaio.use_twisted()
import threading
from types import SimpleNamespace

from switchboard.router.services import history
from switchboard.router.services.history import History
from switchboard.router.services.history_held import Held
from switchboard.router.services.history_policy import HistoryPolicy
from switchboard.router.services.history_store import HistoryStore, StoreUnavailable


class Store(HistoryStore):
    '''A real in-memory store that can be told to fail, and says when each batch was committed.'''

    def __init__(self, log):
        super().__init__(":memory:")
        self.log, self.fail = log, False

    def append_many(self, events, holes=None):
        if self.fail == "unreachable":
            raise StoreUnavailable("Redis: connection refused")
        if self.fail:
            raise OSError("disk gone")
        positions = super().append_many(events, holes)
        self.log.append(("committed", [e[1] for e in events]))
        return positions


def component():
    '''A History whose thread is this one: its jobs run when run_jobs() says.'''
    log, jobs = [], []
    h = History.__new__(History)
    h._policy = HistoryPolicy([{"uri": "chat.room.", "match": "prefix"}])
    h._store = Store(log)
    h._max_topics, h._max_bytes = 100, 1 << 30
    h._capped_line_at, h._evictions = None, 0
    h._queue, h._queue_lock, h._draining = [], threading.Lock(), False
    h._held = Held(5)
    h._acks = SimpleNamespace(release=lambda publications: log.append(("released", list(publications))))
    h._run = lambda fn, *a, **k: jobs.append((fn, a, k)) or SimpleNamespace(addErrback=lambda f: None)

    def record(publication):
        h._record({"n": publication}, details=SimpleNamespace(topic="chat.room.a", publication=publication))

    def run_jobs():
        while jobs:
            fn, a, k = jobs.pop(0)
            fn(*a, **k)

    return SimpleNamespace(h=h, log=log, jobs=jobs, record=record, run_jobs=run_jobs)


history.reactor.callFromThread = lambda fn, *a, **k: fn(*a, **k)
logged = []
history.log.observer = lambda event: logged.append(event["log_format"])

# What arrives while the writer is busy is its next batch, committed together.
c = component()
c.record(1)
assert len(c.jobs) == 1, "idle: the writer is asked at once"
c.record(2)
c.record(3)
assert len(c.jobs) == 1, "busy: no second job, they wait for the first"
c.run_jobs()
assert c.log == [("committed", [1, 2, 3]), ("released", [1, 2, 3])], c.log
c.record(4)
c.run_jobs()
assert c.log[-2:] == [("committed", [4]), ("released", [4])], c.log
assert [e.args for e in c.h._store.read("chat.room.a")] == [[{"n": i}] for i in range(1, 5)]

# A failed commit still lets its acknowledgements go, with one log line, and the writer goes on.
c = component()
c.h._store.fail = True
c.record(1)
c.run_jobs()
assert c.log == [("released", [1])], c.log
assert logged == ["history: could not store {n} events"], logged
c.h._store.fail = False
c.record(2)
c.run_jobs()
assert c.log[-2:] == [("committed", [2]), ("released", [2])], c.log

# A store that cannot be reached (a cluster's Redis): one line while it lasts, not one per batch, and
# no traceback; every batch's acknowledgements go at once, its events are held, and only the retry
# tries the store; once it answers, what was held is written first, in order; one line when it is back.
c = component()
logged.clear()
history.log.warn = lambda fmt, **kw: logged.append(fmt)
history.log.info = lambda fmt, **kw: logged.append(fmt)
retries = []
c.h._retry_later = lambda: retries.append(1)
c.h._store.fail = "unreachable"
for publication in (1, 2, 3):
    c.record(publication)
    c.run_jobs()
assert c.log == [("released", [1]), ("released", [2]), ("released", [3])], c.log
assert len(logged) == 1 and logged[0].startswith("history: cannot store events"), logged
assert len(retries) == 1, "one try failed: the others waited for the retry"
try:
    c.h._read("chat.room.a", None, None, 10)
    raise AssertionError("a read while events are held for a store that is away")
except StoreUnavailable:
    pass
c.h._store.fail = False
c.record(4)
c.run_jobs()
assert [e.publication for e in c.h._store.read("chat.room.a")] == [], "held until the retry"
c.h._flush()  # the retry
c.record(5)
c.run_jobs()
assert logged[1:] == ["history: storing events again"], logged
assert [e.publication for e in c.h._store.read("chat.room.a")] == [1, 2, 3, 4, 5]

# Past its bound the hold drops the oldest, with one line, and leaves their positions empty: a
# recovery across them says gap, also when nothing came after them.
c = component()
logged.clear()
c.h._retry_later = lambda: None
c.record(1)
c.run_jobs()
c.h._store.fail = "unreachable"
for publication in range(2, 10):  # 8 events, 5 held
    c.record(publication)
    c.run_jobs()
assert len(c.h._held) == 5 and c.h._held.holes == {"chat.room.a": 3}, c.h._held.holes
assert sum("dropping the oldest" in line for line in logged) == 1, logged
c.h._store.fail = False
c.h._flush()
stored = c.h._store.read("chat.room.a")
assert [(e.position, e.publication) for e in stored] == [(1, 1)] + [(p, p) for p in range(5, 10)], stored
seen = c.h._read("chat.room.a", None, 1, 10)
assert seen["gap"] and [e["publication"] for e in seen["events"]] == [5, 6, 7, 8, 9], seen
c = component()
c.h._retry_later = lambda: None
c.h._held = Held(0)
c.record(1)
c.run_jobs()
c.h._store.fail = "unreachable"
c.record(2)
c.run_jobs()
c.h._store.fail = False
c.h._flush()
seen = c.h._read("chat.room.a", None, 1, 10)
assert seen == {"events": [], "last": 2, "gap": True}, seen

# A shared store is written by other nodes between the lookups of one history.get: what it read counts.
c = component()
for publication in (1, 2, 3):
    c.record(publication)
c.run_jobs()
c.h._store.last_position = lambda topic: 1  # as read before two more events came in
seen = c.h._read("chat.room.a", 1, None, 10)
assert seen["last"] == 3 and [e["position"] for e in seen["events"]] == [2, 3] and not seen["gap"], seen
c.h._store.first_position = lambda topic: 1  # as read before a trim dropped 1 and 2
c.h._store.trim("chat.room.a", max_events=1, min_published=0)
seen = c.h._read("chat.room.a", 0, None, 10)
assert seen["gap"] and [e["position"] for e in seen["events"]] == [3], seen

# Under a steady stream the writer lets a queued read have its turn after DRAIN_BATCHES, and the read
# first commits what is queued, so it sees every event recorded before it.
c = component()
c.h._pool = SimpleNamespace(callInThread=lambda fn: c.jobs.append((fn, (), {})))
stock, arriving = c.h._store.append_many, iter(range(100, 10_000))


def streaming(events, holes=None):
    positions = stock(events, holes)
    c.record(next(arriving))  # another event arrived during this commit
    return positions


c.h._store.append_many = streaming
c.record(1)
c.jobs.append(("read", (), {}))
fn, a, k = c.jobs.pop(0)
fn(*a, **k)
assert len([e for e in c.log if e[0] == "committed"]) == history.DRAIN_BATCHES, c.log
assert [j[0] for j in c.jobs] == ["read", c.h._drain], c.jobs
queued = [e[1] for e in c.h._queue]
assert len(queued) == 1
c.h._store.append_many = stock
seen = c.h._read("chat.room.a", None, None, 1000)
assert [e["publication"] for e in seen["events"]][-1] == queued[0], seen
assert c.h._draining, "the writer's job is still queued: events do not ask for another"

# Acknowledgements go out before retention and the caps run.
c = component()
order = []
c.h._store.trim = lambda *a, **k: order.append("trim")
c.h._acks = SimpleNamespace(release=lambda publications: order.append("released"))
c.record(1)
c.run_jobs()
assert order == ["released", "trim"], order
"""


def test_group_commits_and_acknowledgements_after_commit_or_failure():
    run_code(CHECKS)

"""Keep a worker's long-lived objects out of the garbage collector's full passes.

A Crossbar worker holds several hundred thousand long-lived objects from its imports (modules,
classes, functions). Every full (generation 2) collection walks all of them, and the router worker
ran one every few seconds under load, each an 80-180 ms stop of all routing: in bench.peers those
pauses, not the routing work, set the p99 latency (measured with gc.callbacks; docs/benchmarks.md).
`gc.freeze()` moves every object alive now into the permanent generation, which collections skip;
what the worker creates later (sessions, subscriptions, messages) is collected as before.

Sessions are long-lived too. A router holding 10,000 idle WebSocket sessions promotes the timers of
their pings into the oldest generation at thousands per second, so a full collection ran every
10 s, and each walked every session's objects: 620-640 ms with all routing stopped, 8% of a core
(docs/benchmarks.md, Tuning, item 12). So what survives a full collection is frozen too, within
seconds, and the next one walks only what was promoted since. Frozen objects still go when their
last reference does; only garbage in reference cycles (a closed session's) waits in the permanent
generation, until a full pass over everything every SWITCHBOARD_GC_FULL_EVERY seconds (default 300)
reclaims it and freezes the rest again: one long pause per period instead of one every few seconds.
"""

from __future__ import annotations

import gc

from switchboard.router import settings as S
from switchboard.router.patches.workerproc import in_crossbar_worker
from twisted.internet.task import LoopingCall

#: seconds between checks for a full collection whose survivors to freeze (holding 10,000 sessions,
#: the collector made one about every 10 s)
CHECK_SECONDS = 2.0

_frozen = False
_full_passes = None
_freeze_checks = None
_full_collections_seen = 0


def freeze_startup_heap(force: bool = False) -> int:
    """In a Crossbar worker (or with `force`), collect once, then freeze what is left; at most once per
    process. Returns how many objects were frozen: 0 when already done, outside a worker (a test run,
    a standalone component), or turned off with SWITCHBOARD_GC_FREEZE=0."""
    global _frozen
    if _frozen or not (force or in_crossbar_worker()) or not S.runtime().gc_freeze:
        return 0
    _frozen = True
    gc.collect()  # garbage from the imports goes now, not into the permanent generation
    gc.freeze()
    return gc.get_freeze_count()


def freeze_after_full_collections() -> bool:
    """Freeze what survived the collector's full collections since the last check, so the next one
    walks only newer objects. Polled rather than a gc callback, which would run at every collection
    of every generation. Returns whether it froze."""
    global _full_collections_seen
    done = gc.get_stats()[2]["collections"]
    if done == _full_collections_seen:
        return False
    _full_collections_seen = done
    gc.freeze()
    return True


def full_pass() -> int:
    """Walk the whole heap once, frozen objects included, and freeze what survives: reclaims cyclic
    garbage that was frozen while still alive. Returns how many objects it collected."""
    gc.unfreeze()
    collected = gc.collect()
    freeze_after_full_collections()
    return collected


def keep_long_lived_frozen(reactor=None, seconds: float | None = None):
    """Once the startup heap is frozen: every CHECK_SECONDS, freeze what survived a full collection,
    and every `seconds` (default: SWITCHBOARD_GC_FULL_EVERY) make a full pass. Returns the full
    passes' LoopingCall, or None when the startup heap is not frozen, it already runs, or the period
    is 0 (off)."""
    global _full_passes, _freeze_checks, _full_collections_seen
    seconds = S.runtime().gc_full_every if seconds is None else seconds
    if not _frozen or _full_passes is not None or seconds == 0:
        return None
    if reactor is None:
        from twisted.internet import reactor
    _full_collections_seen = gc.get_stats()[2]["collections"]
    _freeze_checks = _every(reactor, CHECK_SECONDS, freeze_after_full_collections)
    _full_passes = _every(reactor, seconds, full_pass)
    return _full_passes


def _every(reactor, seconds: float, work) -> LoopingCall:
    call = LoopingCall(work)
    call.clock = reactor
    call.start(seconds, now=False)
    return call

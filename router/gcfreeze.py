"""Keep a worker's startup heap out of the garbage collector's full passes.

A Crossbar worker holds several hundred thousand long-lived objects from its imports (modules,
classes, functions). Every full (generation 2) collection walks all of them, and the router worker
ran one every few seconds under load, each an 80-180 ms stop of all routing: in bench.peers those
pauses, not the routing work, set the p99 latency (measured with gc.callbacks; docs/benchmarks.md).
`gc.freeze()` moves every object alive now into the permanent generation, which collections skip;
what the worker creates later (sessions, subscriptions, messages) is collected as before.
"""

from __future__ import annotations

import gc
import os

from router import settings as S
from router.workerproc import in_crossbar_worker

_frozen = False


def freeze_startup_heap(force: bool = False) -> int:
    """In a Crossbar worker (or with `force`), collect once, then freeze what is left; at most once per
    process. Returns how many objects were frozen: 0 when already done, outside a worker (a test run,
    a standalone component), or turned off with SWITCHBOARD_GC_FREEZE=0."""
    global _frozen
    if _frozen or not (force or in_crossbar_worker()) or os.environ.get(S.ENV_GC_FREEZE, "1") == "0":
        return 0
    _frozen = True
    gc.collect()  # garbage from the imports goes now, not into the permanent generation
    gc.freeze()
    return gc.get_freeze_count()

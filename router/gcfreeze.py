"""Keep the garbage collector's full passes off the objects a worker starts with.

A Crossbar worker imports a large tree of modules before it routes a single message (Crossbar, Twisted,
Autobahn and their dependencies: hundreds of thousands of objects that live as long as the process).
Python's cyclic collector walks all of them on every full (oldest-generation) collection, and routing
allocates fast enough to trigger one every few seconds: each is a pause for every session the worker
serves. `freeze()` moves what is alive at startup into the permanent generation (gc.freeze, Python
3.7+), so full passes walk only what was allocated since. Nothing is leaked: frozen objects were
going to live until the process ends anyway.
"""

from __future__ import annotations

import gc
import os

from router import settings as S


def freeze() -> int:
    """Collect once, then freeze what survives; returns how many objects were frozen (0 when
    SWITCHBOARD_GC_FREEZE=0)."""
    if os.environ.get(S.ENV_GC_FREEZE, "1") == "0":
        return 0
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()

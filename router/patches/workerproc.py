"""Whether this process is a Crossbar worker: per-worker tuning (router/patches/gcfreeze.py,
router/patches/turnflush.py, router/patches/fastsend.py) applies there and nowhere else, not in test runs or
standalone components."""

from __future__ import annotations

import sys

#: the module Crossbar runs (`python -m ...`) as each worker process
WORKER_MAIN = "crossbar.worker.main"


def in_crossbar_worker() -> bool:
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec is not None and spec.name == WORKER_MAIN

"""A proxy worker reads the node key once, not for every session it forwards.

Crossbar 26.10.1's proxy worker calls `_read_node_key` (crossbar/worker/proxy.py) for each browser
session it forwards to the router: it reads key.priv and key.pub and renders each as a terminal QR
code (pyqrcode), about 44 ms of CPU per session here. That capped connects through proxies at about
40/s, and two proxies busy with it dropped hundreds of idle subscribers at the WebSocket ping
timeout (docs/benchmarks.md, Tuning, `sb_proxy`). The key files do not change while the node runs,
and the callers only read the returned dict, so one read per process is enough.
"""

from __future__ import annotations

import functools

_installed = False


def install() -> bool:
    """Cache the proxy module's node-key read (proxy workers only: router/patches/__init__.py)."""
    global _installed
    if _installed:
        return True
    from crossbar.worker import proxy

    proxy._read_node_key = functools.lru_cache(maxsize=None)(proxy._read_node_key)
    _installed = True
    return True

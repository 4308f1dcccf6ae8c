"""Run inside each proxy worker of the `sb_proxy` variant (bench.peers_servers._proxy_layout), as a
Crossbar `resource` path service: a proxy worker loads no component, and a path service's factory is
the one place its config can run code (the worker patches, lazy debug-log arguments among them, are
installed by the proxy worker itself: router/node/workers.py). Creating the resource

- reads the node key once: Crossbar 26.10.1's proxy reads key.priv and key.pub for every session it
  forwards (crossbar.common.key._read_node_key) and renders each as a terminal QR code (pyqrcode),
  about 44 ms of CPU per session here. That capped connects at about 40/s, and two proxies busy with it
  dropped hundreds of idle subscribers at the WebSocket ping timeout.

The resource itself answers 404.
"""

from __future__ import annotations

import functools


def resource(extra: dict):
    from crossbar.worker import proxy
    from twisted.web.resource import NoResource

    if not hasattr(proxy._read_node_key, "cache_info"):
        # the key files do not change while the node runs; callers only read the returned dict's "hex"
        proxy._read_node_key = functools.lru_cache(maxsize=None)(proxy._read_node_key)
    return NoResource()

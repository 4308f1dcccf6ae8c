"""A proxy worker says when it serves every path of its web transport: a file in the node directory.

Crossbar starts a proxy's web transport listening with its root path alone, then adds each other
path (`/ws`, `/info`, the forwarded `/bridge` ...) by one call from the controller each. Between the
two, a browser that reaches that proxy (the kernel spreads connections over the proxies sharing
the port) gets 404 for `/ws`. A hub with components is ready only after them, and they start after
the proxies; one without (a test's hub, the layout measurement's) was ready too early. So, once the
web transport's root holds every path its config gives, the proxy writes `<worker id>` +
PROXY_READY_SUFFIX in the node directory, and the node's readiness waits for one per proxy
(router/node/process.py).
"""

from __future__ import annotations

import os

from switchboard.router import settings as S
from twisted.logger import Logger

log = Logger()

_installed = False


def marker(cbdir: str, worker_id: str) -> str:
    return os.path.join(cbdir, worker_id + S.PROXY_READY_SUFFIX)


def serves_every_path(root) -> bool:
    """The transport's root web service (`root`) holds every path its config gives."""
    wanted = set(root._transport._config.get("paths", {})) - {"/"}
    return all(path in root for path in wanted)


def install() -> bool:
    global _installed
    if _installed:
        return True
    from crossbar.webservice.base import RouterWebService

    add = RouterWebService.__setitem__

    def add_then_say_when_complete(self, path, webservice):
        add(self, path, webservice)
        if self._path == "/" and serves_every_path(self):
            worker = self._transport._worker.config.extra
            path = marker(worker.cbdir, worker.worker)
            try:  # whole or not at all: the node reads it as soon as it exists
                with open(path + ".partial", "w", encoding="utf-8") as f:
                    f.write(f"{os.getpid()}\n")
                os.replace(path + ".partial", path)
            except OSError as e:  # the node then times out naming the proxies' paths; say why here
                log.error("proxy worker cannot write {path}: {e}", path=path, e=e)

    RouterWebService.__setitem__ = add_then_say_when_complete
    _installed = True
    return True

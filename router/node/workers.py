"""Switchboard's Crossbar personality: Crossbar's own, with worker classes that install Switchboard's
patches (router/patches/) when a worker process starts.

Crossbar starts each native worker as `python -m crossbar.worker.main --personality P --klass K`,
importing both by name; the node runs with this personality (router/node/launch.py), so every router
and container worker it starts is one of the classes below, and the patches are applied by one
explicit call there, before the worker's transports or components exist.
"""

from __future__ import annotations

from crossbar import personality as standalone
from crossbar.worker.container import ContainerController
from crossbar.worker.proxy import ProxyController
from crossbar.worker.router import RouterController
from switchboard.router import patches


class RouterWorker(RouterController):
    """Crossbar's router worker, with every worker patch and the router's own."""

    def __init__(self, config=None, reactor=None, personality=None):
        patches.install(patches.ROUTER, reactor)
        super().__init__(config=config, reactor=reactor, personality=personality)


class ContainerWorker(ContainerController):
    """Crossbar's container worker (backend components), with every worker patch."""

    def __init__(self, config=None, reactor=None, personality=None):
        patches.install(patches.CONTAINER, reactor)
        super().__init__(config=config, reactor=reactor, personality=personality)


class ProxyWorker(ProxyController):
    """Crossbar's proxy worker (WebSocket in front of the router), with every worker patch."""

    def __init__(self, config=None, reactor=None, personality=None):
        patches.install(patches.PROXY, reactor)
        super().__init__(config=config, reactor=reactor, personality=personality)


CLASSES = {"router": RouterWorker, "container": ContainerWorker, "proxy": ProxyWorker}


def native_workers() -> dict:
    workers = standalone.default_native_workers()
    for kind, klass in CLASSES.items():
        workers[kind] = {**workers[kind], "worker_class": klass}
    return workers


class Personality(standalone.Personality):
    """Crossbar's standalone personality with Switchboard's worker classes."""

    native_workers = native_workers()
    WorkerKlasses = [*CLASSES.values()] + [
        k
        for k in standalone.Personality.WorkerKlasses
        if k not in (RouterController, ContainerController, ProxyController)
    ]

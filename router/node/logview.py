"""What the node's log shows: at info, Switchboard's own lines and the few of Crossbar's worth knowing
(a start reads in a dozen lines, not 500); at debug, everything Crossbar says; as text or JSON lines.

Crossbar's controller prints its own records and every worker's (relayed with the worker's
namespace in `cb_namespace`) through the observers its `_start_logging` makes. router/node/launch.py
wraps those two factories with `observers`: the text stays Crossbar's own format, the filter and the
JSON format are added here. The pure parts (`shown`, `json_line`) take a Twisted log event (a dict)
and do no I/O.
"""

from __future__ import annotations

import os
import re
import sys

from crossbar._logging import strip_ansi
from switchboard.router import settings as S
from switchboard.router.node import logline
from twisted.logger import ILogObserver, LogLevel, formatEvent
from zope.interface import provider

#: namespaces whose info records are shown at debug only: Crossbar's banner, config dumps and
#: start-up steps ("__main__": its worker processes' main module), Autobahn's and Twisted's
#: ("log_legacy": Twisted's old-style lines)
QUIET_NAMESPACES = ("crossbar", "autobahn", "twisted", "txaio", "log_legacy", "__main__")
#: Where Switchboard subclasses Crossbar's and Twisted's classes (its worker classes, its factories):
#: a class's logger is named after the subclass, so "switchboard.router.node.workers.RouterWorker"
#: carries Crossbar's records; Switchboard's own lines come from module loggers (lower-case names).
SUBCLASSES_IN = "switchboard.router."
#: Crossbar info records still shown at info: a worker that died, a component Crossbar restarts
WORTH_KNOWING = ("ended with error", "now restarting previously closed component")


#: the node controller's namespaces
CONTROLLER = "crossbar.node."
#: the controller's record of a stop it was asked for (Ctrl-C, `switchboard run` stopping the node)
STOP_ASKED = "Controller received SIGINT"
#: what Crossbar says, at warn and error, while it stops every worker at once after STOP_ASKED: the
#: components lose the router that stops beside them. Shown at debug only once a stop was asked for;
#: before it (a crash) they are shown as they come.
STOP_NOISE = (
    "Native worker received SIGTERM",
    "session closed with reason wamp.close.transport_lost",
    "Lost connection to component",
    "cannot detach session",
    "now restarting previously closed component",
    "Container is hosting no more components",
    # Autobahn, at info, for a component's call or publish the stopping router will not answer (the
    # record carries the component's own logger name, so it is not quiet by namespace)
    "outstanding requests",
)
#: a component Crossbar restarted as it stops (restart-always) says it is ready again: noise then too
READY_AGAIN = re.compile("^" + re.escape(S.READY_LINE).replace(re.escape("{name}"), r"\S+") + "$")


def namespace(event: dict) -> str:
    """Where a record comes from: the worker's namespace for a relayed record, else the controller's."""
    return event.get("cb_namespace") or event.get("log_namespace") or ""


def quiet(name: str) -> bool:
    """Whether namespace `name` is Crossbar's, Autobahn's or Twisted's (shown at debug only)."""
    if any(name == q or name.startswith(q + ".") for q in QUIET_NAMESPACES):
        return True
    return name.startswith(SUBCLASSES_IN) and name.rpartition(".")[2][:1].isupper()


def message(event: dict) -> str:
    """A record's text, without the terminal colours Crossbar puts in some."""
    return strip_ansi(formatEvent(event)) if event.get("log_format") is not None else ""


class View:
    """Which records a node that logs at info (or warn, or error) prints: one per node process, shared
    by its stdout and stderr observers, since whether a stop was asked for decides some of them."""

    def __init__(self):
        self.stopping = False

    def shown(self, event: dict) -> bool:
        level = event.get("log_level")
        if level is not LogLevel.info and not self.stopping:
            if namespace(event).startswith(CONTROLLER) and STOP_ASKED in message(event):
                self.stopping = True
            return True
        text = message(event)
        if self.stopping and (any(phrase in text for phrase in STOP_NOISE) or READY_AGAIN.match(text)):
            return False
        if level is not LogLevel.info:
            return True
        if not quiet(namespace(event)):
            return bool(text.strip())  # Crossbar prints an empty line after its banner
        return any(phrase in text for phrase in WORTH_KNOWING)


def system(event: dict) -> str:
    """The process a record comes from, as Crossbar prints it: "Router 1234", "Controller 1200"."""
    name = event.get("log_system", "-")
    return " ".join(name.split()) if name != "-" else f"Controller {os.getpid()}"


def json_line(event: dict) -> str:
    """One record as one line of JSON for a log shipper: time (UTC, ISO 8601), level, process,
    namespace, message (a failure's traceback appended to it, as in the text format)."""
    text = message(event)
    failure = event.get("log_failure")
    if failure is not None:
        text = f"{text}\n{failure.getTraceback()}"
    level = getattr(event.get("log_level"), "name", "info")
    return logline.record(event.get("log_time"), level, system(event), namespace(event), text)


def observers(stock, log_format: str, stream_name: str, view: View):
    """A replacement for Crossbar's make_stdout_observer / make_stderr_observer (`stock`): the same
    observer behind `view`'s filter, and, for log_format "json", JSON lines instead of its text."""

    def make(*args, **kwargs):
        inner = stock(*args, **kwargs)
        levels = kwargs.get("levels") or stock.__defaults__[0]
        filtered = LogLevel.debug not in levels  # Crossbar shows debug records only at debug and trace
        if log_format == "json":
            inner = _json_observer(levels, stream_name)

        @provider(ILogObserver)
        def observer(event):
            if event.get("log_level") not in levels or (filtered and not view.shown(event)):
                return
            inner(event)

        return observer

    return make


def _json_observer(levels, stream_name: str):
    @provider(ILogObserver)
    def observer(event):
        print(json_line(event), file=getattr(sys, stream_name), flush=True)

    return observer


def versions_line(reactor) -> str:
    """The first line of a start: what runs, in which versions."""
    from importlib.metadata import PackageNotFoundError, version

    def of(dist: str) -> str:
        try:
            return version(dist)
        except PackageNotFoundError:
            return "?"

    return (
        f"Switchboard {of('switchboard-hub')} on Crossbar.io {of('crossbar')}, Autobahn {of('autobahn')}, "
        f"Twisted {of('twisted')}, {sys.implementation.name.replace('cpython', 'CPython')} "
        f"{sys.version.split()[0]}, {type(reactor).__name__}"
    )

"""A worker's log records to the node controller: Crossbar's per-connection chatter at debug, and
the records of one reactor turn in one pipe write.

Every Crossbar worker hands each log event to the node controller as a JSON record on its stderr
pipe, flushed record by record, and the controller parses the record and logs it again. At log
level info every WAMP session cost four records: "cookie tracking disabled", the anonymous
authenticator's hello, the attach (with its authextra) and the detach. That was half of what a
connection cost the hub (docs/benchmarks.md, Tuning, item 11). Here all four go out at debug,
where a developer looking for them finds them (the log at info says what is worth knowing, not
every connection: router/node/logview.py), and what
the worker logs in one turn leaves in one write at the end of the turn. A warning or an error,
and anything logged off the reactor thread or while the reactor is not running, is written at
once, after what the turn had buffered, so the order holds and nothing waits behind a crash.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

from switchboard.router import settings as S
from switchboard.router.patches.workerproc import in_crossbar_worker
from twisted.logger import LogLevel, globalLogPublisher
from twisted.python import threadable

#: Crossbar's info records about every connection that tell nothing about the session: logged at
#: debug instead (tests/unit/test_workerlog.py checks each is still in Crossbar's source)
CHATTER = frozenset(
    {
        "{func} cookie tracking disabled on WebSocket connection",
        "{func} cookie-based authentication disabled on connection",
        "{func}(realm={realm}, details.realm={authrealm}, details.authid={authid}, details.authrole={authrole})"
        " [config={config}]",
    }
)
#: Crossbar's info records of every session joining and leaving (five lines each, with its authextra):
#: at debug too, since a hub's log at info says what is worth knowing, not every connection (sessions
#: are counted in /metrics and listed by `switchboard status`)
SESSIONS = frozenset(
    {
        '{func} new session attached for realm="{realm}", session={session}, authid="{authid}", '
        'authrole="{authrole}", authmethod="{authmethod}", authprovider="{authprovider}", authextra=\n{authextra}',
        '{func} router session detached from realm "{realm}" (session={session}, '
        'detached_session_ids={detached_session_ids}, authid="{authid}", authrole="{authrole}", '
        'authmethod="{authmethod}", authprovider="{authprovider}")',
    }
)
DEMOTED = CHATTER | SESSIONS
#: levels written at once, with whatever the turn buffered before them
URGENT = frozenset({LogLevel.warn, LogLevel.error, LogLevel.critical})
#: buffered text that is written at once rather than at the end of the turn
BUFFER_LIMIT = 64 * 1024
#: the observer Crossbar's worker main adds to send records to the controller
_JSON_OBSERVER = "make_JSON_observer.<locals>._make_json"

_installed = False


def demoted(event: dict) -> dict:
    """The event as the controller should get it: Crossbar's per-connection chatter at debug."""
    if event.get("log_level") is LogLevel.info and event.get("log_format") in DEMOTED:
        return {**event, "log_level": LogLevel.debug}
    return event


class TurnBatchedPipe:
    """File-like for the worker's JSON records: what one reactor turn writes leaves in one write."""

    def __init__(self, stream, reactor, limit: int = BUFFER_LIMIT):
        self._stream = stream
        self._fd = stream.fileno()
        self._reactor = reactor
        self._limit = limit
        self._parts: list[str] = []
        self._size = 0
        self._scheduled = False
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            self._parts.append(text)
            self._size += len(text)

    def flush(self) -> None:
        """Called after every record: write now, or once at the end of this turn."""
        if self._size >= self._limit or not self._reactor.running or not threadable.isInIOThread():
            self.drain()
        elif not self._scheduled:
            self._scheduled = True
            self._reactor.callLater(0, self.drain)

    def drain(self) -> None:
        with self._lock:
            self._scheduled = False
            if not self._parts:
                return
            data = "".join(self._parts).encode("utf-8", "backslashreplace")
            self._parts.clear()
            self._size = 0
            self._stream.flush()  # anything written to the stream directly goes first
            while data:
                data = data[os.write(self._fd, data) :]


def _json_observer():
    for observer in globalLogPublisher._observers:
        if getattr(observer, "__qualname__", "") == _JSON_OBSERVER:
            return observer
    return None


def install(reactor=None, stream=None, force: bool = False) -> bool:
    """In a Crossbar worker (or with `force`), replace the observer that sends records to the node
    controller. Returns whether it is (now) installed; SWITCHBOARD_WORKER_LOG=0 keeps Crossbar's."""
    global _installed
    if _installed:
        return True
    if not (force or in_crossbar_worker()) or not S.runtime().worker_log:
        return False
    stock = _json_observer()
    if stock is None:
        return False
    from crossbar._logging import make_JSON_observer

    if reactor is None:
        from twisted.internet import reactor
    pipe = TurnBatchedPipe(stream or sys.__stderr__, reactor)
    to_controller = make_JSON_observer(pipe)

    def observer(event: dict) -> None:
        to_controller(demoted(event))
        if event.get("log_level") in URGENT:
            pipe.drain()

    globalLogPublisher.addObserver(observer)
    globalLogPublisher.removeObserver(stock)
    reactor.addSystemEventTrigger("after", "shutdown", pipe.drain)
    atexit.register(pipe.drain)
    _installed = True
    return True

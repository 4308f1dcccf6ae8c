"""switchboard.router.patches.workerlog: a worker's records reach the node controller one pipe write per reactor turn,
warnings and errors at once and in order, and Crossbar's per-connection chatter only at debug.

The pipe is a real one; the reactor is Twisted's Clock (a turn ends at `advance(0)`). Installing
imports Crossbar, which selects Twisted for txaio while this test process runs the asyncio client,
so those checks run in a fresh interpreter, as a Crossbar worker would.
"""

import os
import threading

import pytest
from switchboard.router import settings as S
from switchboard.router.patches import workerlog
from twisted.internet.task import Clock
from twisted.logger import LogLevel
from twisted.python import threadable

from tests.fresh_python import run_code


class Reactor(Clock):
    running = True

    def addSystemEventTrigger(self, *args):
        pass


@pytest.fixture
def io_thread():
    """This thread as the reactor's, as in a worker."""
    before = threadable.ioThread
    threadable.registerAsIOThread()
    yield
    threadable.ioThread = before


@pytest.fixture
def pipe(io_thread, monkeypatch):
    """(TurnBatchedPipe over a real pipe, its reactor, read(), the number of os.write calls so far)."""
    r, w = os.pipe()
    os.set_blocking(r, False)
    writes = []
    real_write = os.write
    monkeypatch.setattr(workerlog.os, "write", lambda fd, data: writes.append(len(data)) or real_write(fd, data))
    reactor = Reactor()
    stream = os.fdopen(w, "w")

    def read() -> str:
        try:
            return os.read(r, 1 << 20).decode()
        except BlockingIOError:
            return ""

    p = workerlog.TurnBatchedPipe(stream, reactor, limit=1000)
    p.stream = stream
    yield p, reactor, read, writes
    stream.close()
    os.close(r)


def record(p, text: str) -> None:
    """What Crossbar's JSON observer does per record: print, then flush."""
    p.write(text)
    p.write("\x1e")
    p.flush()


def test_the_records_of_one_turn_leave_in_one_write_at_its_end(pipe):
    p, reactor, read, writes = pipe
    for text in ("a", "b", "c"):
        record(p, text)
    assert read() == "" and writes == []
    reactor.advance(0)
    assert read() == "a\x1eb\x1ec\x1e"
    assert len(writes) == 1
    record(p, "d")  # the next turn
    reactor.advance(0)
    assert read() == "d\x1e" and len(writes) == 2


def test_drain_writes_what_the_turn_buffered_first(pipe):
    p, reactor, read, writes = pipe
    record(p, "info")
    record(p, "warn")
    p.drain()  # what the observer does after a warning
    assert read() == "info\x1ewarn\x1e"
    reactor.advance(0)  # the turn's own flush finds nothing left
    assert read() == "" and len(writes) == 1


def test_text_written_to_the_stream_itself_keeps_its_place(pipe):
    p, reactor, read, _ = pipe
    p.stream.write("printed ")  # Crossbar's worker prints a few lines to stderr directly
    record(p, "a")
    reactor.advance(0)
    assert read() == "printed a\x1e"


def test_written_at_once_off_the_reactor_thread(pipe):
    p, _, read, _ = pipe
    worker = threading.Thread(target=record, args=(p, "from a thread"))
    worker.start()
    worker.join()
    assert read() == "from a thread\x1e"


def test_written_at_once_when_the_reactor_is_not_running(pipe):
    p, reactor, read, _ = pipe
    reactor.running = False
    record(p, "at shutdown")
    assert read() == "at shutdown\x1e"


def test_written_at_once_past_the_limit(pipe):
    p, _, read, _ = pipe
    record(p, "x" * 600)
    assert read() == ""
    record(p, "y" * 600)
    assert read() == "x" * 600 + "\x1e" + "y" * 600 + "\x1e"


def test_crossbar_connection_chatter_goes_to_debug():
    chatter = {"log_level": LogLevel.info, "log_format": next(iter(workerlog.CHATTER)), "x": 1}
    assert workerlog.demoted(chatter) == {**chatter, "log_level": LogLevel.debug}
    assert chatter["log_level"] is LogLevel.info  # other observers see the event unchanged
    for kept in (
        {**chatter, "log_level": LogLevel.warn},
        {"log_level": LogLevel.info, "log_format": "new session attached"},
    ):
        assert workerlog.demoted(kept) is kept


INSTALLED = """
import json, os
from crossbar._logging import make_JSON_observer, set_global_log_level
from twisted.internet.task import Clock
from twisted.logger import Logger, globalLogPublisher
from twisted.python import threadable
from switchboard.router.patches import workerlog

class Reactor(Clock):
    running = True
    def addSystemEventTrigger(self, *args):
        pass

threadable.registerAsIOThread()
r, w = os.pipe()
os.set_blocking(r, False)
stream = os.fdopen(w, "w")
stock = make_JSON_observer(stream)  # as crossbar.worker.main adds it
globalLogPublisher.addObserver(stock)
set_global_log_level(LEVEL)
reactor = Reactor()
assert workerlog.install(reactor=reactor, stream=stream, force=True)
assert stock not in globalLogPublisher._observers

def records():
    try:
        data = os.read(r, 1 << 20).decode()
    except BlockingIOError:
        return []
    return [(e["level"], e["text"]) for e in map(json.loads, data.split("\\x1e")[:-1])]

log = Logger(namespace="crossbar.router.protocol.WampWebSocketServerProtocol")
chatter = "{func} cookie tracking disabled on WebSocket connection"
log.info(chatter, func="onConnect")
log.info("session attached")
assert records() == []
log.warn("a warning")
"""


def test_installed_the_controller_gets_a_warning_at_once_and_no_chatter_at_info():
    run_code(
        INSTALLED.replace("LEVEL", '"info"')
        + """
assert records() == [("info", "session attached"), ("warn", "a warning")]
log.info("session detached")
assert records() == []
reactor.advance(0)
assert records() == [("info", "session detached")]
""",
        unset=(S.ENV_WORKER_LOG,),
    )


def test_installed_the_chatter_is_there_at_debug():
    run_code(
        INSTALLED.replace("LEVEL", '"debug"')
        + """
assert records() == [("debug", "onConnect cookie tracking disabled on WebSocket connection"),
                     ("info", "session attached"), ("warn", "a warning")]
""",
        unset=(S.ENV_WORKER_LOG,),
    )


def test_written_against_this_crossbar():
    run_code("""
        import inspect, pathlib
        import crossbar, crossbar.worker.main
        from crossbar._logging import make_JSON_observer
        from switchboard.router.patches import workerlog
        assert make_JSON_observer(None).__qualname__ == workerlog._JSON_OBSERVER
        assert "make_JSON_observer(sys.__stderr__)" in inspect.getsource(crossbar.worker.main)
        import ast
        def constants(path):
            try:
                tree = ast.parse(path.read_text())
            except SyntaxError:  # Crossbar ships a few templates named *.py
                return []
            return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        strings = {s for path in pathlib.Path(crossbar.__file__).parent.rglob("*.py") for s in constants(path)}
        for text in workerlog.DEMOTED:
            assert text in strings, text
    """)


def test_off_outside_a_worker_and_by_the_environment():
    for env in ({}, {S.ENV_WORKER_LOG: "0"}):
        run_code(
            f"""
            from switchboard.router.patches import workerlog
            assert not workerlog.install(force={bool(env)})
            """,
            unset=(S.ENV_WORKER_LOG,),
            **env,
        )

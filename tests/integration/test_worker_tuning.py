"""Every worker of a real hub applies Switchboard's per-worker tuning at start: its startup heap
leaves the garbage collector's full passes, and so does what survives each full collection between
periodic full passes (router/patches/gcfreeze.py), its accepted connections send at
the end of each reactor turn (router/patches/turnflush.py), and it sends WAMP messages to WebSocket peers as
ready-made frames (router/patches/fastsend.py), and it hands its log records to the node controller one write
per turn (router/patches/workerlog.py); and a browser's WebSocket, whose transport keeps the HTTP
channel it was upgraded from as its producer, gets its events through the turn flush's direct send
(Tuning, item 10), not Twisted's doWrite. Seen from inside each process by a `sitecustomize` probe
on the node's PYTHONPATH, which reports its process's state to a file."""

import json
import time

from switchboard.router import settings as S
from switchboard.router.patches.workerproc import WORKER_MAIN
from switchboard.router.testing.hub import Hub

PROBE = '''
import gc, json, os, sys, threading, time

#: the producer types of the connections whose buffers switchboard.router.patches.turnflush sent itself
_direct = set()

def _count_direct_sends(flush):
    """Wrap turnflush.send_buffer (looked up by name at every flush) to note who took the direct send;
    only once the module is installed (while it is still being imported, sys.modules already has it)."""
    if not getattr(flush, "_installed", False) or getattr(flush, "_probe_counting", False):
        return
    real = flush.send_buffer

    def counted(connection, reactor):
        sent = real(connection, reactor)
        if sent:
            _direct.add(type(connection.producer).__name__)
        return sent

    flush.send_buffer = counted
    flush._probe_counting = True

def _report():
    path = os.path.join(os.environ["SWITCHBOARD_TEST_PROBE_DIR"], f"{os.getpid()}.json")
    while True:
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        flush, fast, worker_log, freeze = (sys.modules.get(f"switchboard.router.patches.{name}")
                                          for name in ("turnflush", "fastsend", "workerlog", "gcfreeze"))
        _count_direct_sends(flush)
        with open(path + ".tmp", "w") as f:
            json.dump({"main": spec.name if spec else None, "frozen": gc.get_freeze_count(),
                       "turn_flush": getattr(flush, "_probe_counting", False),
                       "fast_send": getattr(fast, "_installed", False),
                       "worker_log": getattr(worker_log, "_installed", False),
                       "full_passes": getattr(freeze, "_full_passes", None) is not None,
                       "direct_send": sorted(_direct)}, f)
        os.replace(path + ".tmp", path)
        time.sleep(0.2)

threading.Thread(target=_report, daemon=True).start()
'''


def _workers(probe_dir) -> dict[str, dict]:
    found = {}
    for path in probe_dir.glob("*.json"):
        state = json.loads(path.read_text())
        if state["main"] == WORKER_MAIN:
            found[path.stem] = state
    return found


def _tuned(worker: dict) -> bool:
    return (
        worker["frozen"] > 0
        and worker["full_passes"]
        and worker["turn_flush"]
        and worker["fast_send"]
        and worker["worker_log"]
    )


def test_every_worker_applies_its_tuning(tmp_path):
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    (probe_dir / "sitecustomize.py").write_text(PROBE)
    expected = len(S.load_config(S.CONFIG_FILE)["workers"])  # the router and each component's container
    env = {"PYTHONPATH": str(probe_dir), "SWITCHBOARD_TEST_PROBE_DIR": str(probe_dir)}
    with Hub.started(tmp_path / "hub", env=env) as hub:
        deadline = time.monotonic() + 30
        workers = _workers(probe_dir)
        while time.monotonic() < deadline and not (len(workers) == expected and all(map(_tuned, workers.values()))):
            time.sleep(0.2)
            workers = _workers(probe_dir)
        assert len(workers) == expected, workers
        # tens of thousands of objects each: Crossbar's imports, not a handful made after start
        assert all(w["frozen"] > 50_000 for w in workers.values()), workers
        assert all(_tuned(w) for w in workers.values()), workers
        with hub.client() as browser:  # the page's WebSocket transport
            browser.subscribe("clock.tick").get(timeout=10)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not _websocket_sent_directly(_workers(probe_dir)):
                time.sleep(0.2)
        assert _websocket_sent_directly(_workers(probe_dir)), _workers(probe_dir)


def _websocket_sent_directly(workers: dict[str, dict]) -> bool:
    return any("HTTPChannel" in w["direct_send"] for w in workers.values())

"""Every worker of a real hub applies Switchboard's per-worker tuning at start: its startup heap
leaves the garbage collector's full passes (router/gcfreeze.py), its accepted connections send at
the end of each reactor turn (router/turnflush.py), and it sends WAMP messages to WebSocket peers as
ready-made frames (router/fastsend.py). Seen from inside each process by a
`sitecustomize` probe on the node's PYTHONPATH, which reports its process's state to a file."""

import json
import time

from router import settings as S
from router.testing import Hub
from router.workerproc import WORKER_MAIN

PROBE = '''
import gc, json, os, sys, threading, time

def _report():
    path = os.path.join(os.environ["SWITCHBOARD_TEST_PROBE_DIR"], f"{os.getpid()}.json")
    while True:
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        with open(path + ".tmp", "w") as f:
            flush, fast = sys.modules.get("router.turnflush"), sys.modules.get("router.fastsend")
            json.dump({"main": spec.name if spec else None, "frozen": gc.get_freeze_count(),
                       "turn_flush": bool(flush and flush._installed),
                       "fast_send": bool(fast and fast._installed)}, f)
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
    return worker["frozen"] > 0 and worker["turn_flush"] and worker["fast_send"]


def test_every_worker_applies_its_tuning(tmp_path):
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    (probe_dir / "sitecustomize.py").write_text(PROBE)
    expected = len(S.load_config(S.CONFIG_FILE)["workers"])  # the router and each component's container
    env = {"PYTHONPATH": str(probe_dir), "SWITCHBOARD_TEST_PROBE_DIR": str(probe_dir)}
    with Hub.started(tmp_path / "hub", env=env):
        deadline = time.monotonic() + 30
        workers = _workers(probe_dir)
        while time.monotonic() < deadline and not (len(workers) == expected and all(map(_tuned, workers.values()))):
            time.sleep(0.2)
            workers = _workers(probe_dir)
    assert len(workers) == expected, workers
    # tens of thousands of objects each: Crossbar's imports, not a handful made after start
    assert all(w["frozen"] > 50_000 for w in workers.values()), workers
    assert all(_tuned(w) for w in workers.values()), workers

"""router.gcfreeze: a Crossbar worker's startup heap leaves the garbage collector's full passes, once,
and only in a worker. Each check runs in a fresh interpreter: freezing is for the life of a process."""

from router import settings as S
from tests.fresh_python import run_code

AS_WORKER = """
import importlib.machinery, sys
sys.modules["__main__"].__spec__ = importlib.machinery.ModuleSpec("crossbar.worker.main", None)
"""


def run(code: str, **env) -> None:
    run_code(code, unset=(S.ENV_GC_FREEZE,), **env)


def test_a_worker_freezes_its_heap_once():
    run(AS_WORKER + """
import gc
from router import gcfreeze
from router.workerproc import in_crossbar_worker
assert in_crossbar_worker()
frozen = gcfreeze.freeze_startup_heap()
assert frozen > 10_000 and gc.get_freeze_count() == frozen, frozen
assert gcfreeze.freeze_startup_heap() == 0  # once per process
assert gc.isenabled()  # later objects are still collected
""")


def test_outside_a_worker_nothing_is_frozen():
    run("""
import gc
from router import gcfreeze
from router.workerproc import in_crossbar_worker
assert not in_crossbar_worker()
assert gcfreeze.freeze_startup_heap() == 0 and gc.get_freeze_count() == 0
""")


def test_the_environment_turns_it_off():
    run(AS_WORKER + """
import gc
from router import gcfreeze
assert gcfreeze.freeze_startup_heap() == 0 and gc.get_freeze_count() == 0
""", **{S.ENV_GC_FREEZE: "0"})

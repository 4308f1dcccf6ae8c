"""switchboard.router.patches.gcfreeze: a Crossbar worker's startup heap leaves the garbage collector's full
passes, once, and only in a worker; what survives a full collection later is frozen too, and a periodic full pass
over everything reclaims cyclic garbage that was frozen while alive. Each check runs in a fresh
interpreter: freezing is for the life of a process."""

from switchboard.router import settings as S

from tests.fresh_python import run_code

AS_WORKER = """
import importlib.machinery, sys
sys.modules["__main__"].__spec__ = importlib.machinery.ModuleSpec("crossbar.worker.main", None)
"""


def run(code: str, **env) -> None:
    run_code(code, unset=(S.ENV_GC_FREEZE, S.ENV_GC_FULL_EVERY), **env)


KEPT_FROZEN = (
    AS_WORKER
    + """
import gc, weakref
from twisted.internet.task import Clock
from switchboard.router.patches import gcfreeze

class Node:
    pass

clock = Clock()
gcfreeze.freeze_startup_heap()
passes = gcfreeze.keep_long_lived_frozen(clock, seconds=60)
assert passes is not None and gcfreeze.keep_long_lived_frozen(clock, seconds=60) is None  # once

def in_collected_generations(obj) -> bool:
    return any(o is obj for o in gc.get_objects())  # generations 0-2: not the permanent one
"""
)


def test_a_worker_freezes_its_heap_once():
    run(
        AS_WORKER
        + """
import gc
from switchboard.router.patches import gcfreeze
from switchboard.router.patches.workerproc import in_crossbar_worker
assert in_crossbar_worker()
frozen = gcfreeze.freeze_startup_heap()
assert frozen > 10_000 and gc.get_freeze_count() == frozen, frozen
assert gcfreeze.freeze_startup_heap() == 0  # once per process
assert gc.isenabled()  # later objects are still collected
"""
    )


def test_outside_a_worker_nothing_is_frozen():
    run("""
import gc
from switchboard.router.patches import gcfreeze
from switchboard.router.patches.workerproc import in_crossbar_worker
assert not in_crossbar_worker()
assert gcfreeze.freeze_startup_heap() == 0 and gc.get_freeze_count() == 0
""")


def test_the_environment_turns_it_off():
    run(
        AS_WORKER
        + """
import gc
from switchboard.router.patches import gcfreeze
assert gcfreeze.freeze_startup_heap() == 0 and gc.get_freeze_count() == 0
""",
        **{S.ENV_GC_FREEZE: "0"},
    )


def test_what_survives_a_full_collection_is_frozen():
    run(
        KEPT_FROZEN
        + """
sessions = [Node() for _ in range(1000)]
assert in_collected_generations(sessions[0])
before = gc.get_freeze_count()
gc.collect()  # a full collection, as the collector runs by itself
assert in_collected_generations(sessions[0])
clock.advance(gcfreeze.CHECK_SECONDS)  # the next check freezes what survived it
assert not in_collected_generations(sessions[0])
assert gc.get_freeze_count() >= before + 1000
young = Node()  # made after it: collected as usual until the next full collection
assert in_collected_generations(young)
"""
    )


def test_a_full_pass_reclaims_cyclic_garbage_that_was_frozen_alive():
    run(
        KEPT_FROZEN
        + """
closed = Node()
closed.me = closed  # a reference cycle, as a session and its protocol have
alive = weakref.ref(closed)
gc.collect()
clock.advance(gcfreeze.CHECK_SECONDS)  # frozen while still in use
del closed
gc.collect()  # the collector's own full collections do not see it ...
clock.advance(gcfreeze.CHECK_SECONDS)
assert alive() is not None
clock.advance(59 - 2 * gcfreeze.CHECK_SECONDS)
assert alive() is not None
clock.advance(1)  # ... the periodic full pass does
assert alive() is None
assert gc.get_freeze_count() > 10_000  # and the rest is frozen again
"""
    )


def test_full_passes_off_or_misconfigured():
    for value, error in (
        ("0", None),
        ("soon", "SWITCHBOARD_GC_FULL_EVERY='soon' is not a number"),
        ("-5", "SWITCHBOARD_GC_FULL_EVERY='-5' is not a number"),
        ("inf", "SWITCHBOARD_GC_FULL_EVERY='inf' is not a number"),
    ):
        run(
            AS_WORKER
            + f"""
import gc
from twisted.internet.task import Clock
from switchboard.router.patches import gcfreeze
try:  # a bad value is refused when the worker first reads its settings (router/settings.py, runtime)
    gcfreeze.freeze_startup_heap()
    assert gcfreeze.keep_long_lived_frozen(Clock()) is None
    assert gcfreeze._freeze_checks is None
except ValueError as e:
    assert {error!r} and str(e).startswith({error!r}) and {value!r} in str(e), e
else:
    assert {error!r} is None, "refused"
""",
            **{S.ENV_GC_FULL_EVERY: value},
        )


def test_outside_a_worker_nothing_is_kept_frozen():
    run("""
import gc
from twisted.internet.task import Clock
from switchboard.router.patches import gcfreeze
assert gcfreeze.freeze_startup_heap() == 0
assert gcfreeze.keep_long_lived_frozen(Clock(), seconds=60) is None
assert gcfreeze._freeze_checks is None
""")

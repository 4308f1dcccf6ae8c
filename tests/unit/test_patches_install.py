"""switchboard.router.patches.install: one call applies a worker's patches, the router's own only in
the router worker; importing the patch modules applies nothing. Each case runs in a fresh interpreter:
a patch lasts for the life of the process."""

from tests.fresh_python import run_code

STATE = """
from switchboard.router.patches import authcache, connlimit, counting, dealer_order, durable_ack, ingress, sendlimit
def state():
    return {"ingress": ingress._installed, "sendlimit": sendlimit._installed, "authcache": authcache._installed,
            "connlimit": connlimit._table is not None, "dealer_order": dealer_order._installed,
            "durable_ack": durable_ack._installed, "counting": counting._installed}
"""


def test_importing_the_patches_applies_nothing():
    run_code(
        STATE
        + """
import switchboard.router.patches
assert not any(state().values()), state()
"""
    )


def test_a_container_worker_gets_every_worker_patch_and_none_of_the_routers():
    run_code(
        STATE
        + """
from twisted.internet import reactor
from switchboard.router import patches
patches.install("container", reactor)
s = state()
assert s["ingress"] and s["sendlimit"] and s["authcache"], s
assert not (s["connlimit"] or s["dealer_order"] or s["durable_ack"] or s["counting"]), s
"""
    )


def test_the_router_worker_gets_the_routers_patches_too():
    run_code(
        STATE
        + """
from twisted.internet import reactor
from switchboard.router import patches
patches.install("router", reactor)
assert all(state().values()), state()
"""
    )


def test_an_unknown_role_is_refused():
    run_code("""
from switchboard.router import patches
try:
    patches.install("edge")
except ValueError as e:
    assert "edge" in str(e)
else:
    raise AssertionError("installed for an unknown role")
""")

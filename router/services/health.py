"""`/health` and `/ready` of the hub's web transport, for load balancers, orchestrators and scripts.

`/health` answers 200 whenever the router worker serves HTTP at all (liveness: restart the hub when
it stops answering). `/ready` answers 200 only once every component of the config has done its setup
(each subscribes to READY_TOPIC then: components/base.py), and 503 naming what is missing before
that (readiness: send no traffic yet). It reads the subscription from the router's broker in this
process (router/patches/counting.py remembers the routers), so it needs no session and works with
any config. Both are unauthenticated and write no log line; render_config (router/node/process.py)
adds both paths to every hub's web transport, with the count of components to wait for.
"""

from __future__ import annotations

from switchboard.router import settings as S
from switchboard.router.patches import counting
from switchboard.router.services.http_answers import json_answer, refuse_unless_get
from twisted.web.resource import Resource


class Alive(Resource):
    isLeaf = True

    def render(self, request):
        return refuse_unless_get(request) or json_answer(request, 200, {"status": "alive"})


class Ready(Resource):
    isLeaf = True

    def __init__(self, expected_components: int, count=None):
        super().__init__()
        self.expected = expected_components
        self._count = count or ready_components

    def render(self, request):
        refused = refuse_unless_get(request)
        if refused:
            return refused
        state = self.state(self._count())
        return json_answer(request, 200 if state["status"] == "ready" else 503, state)

    def state(self, ready: int) -> dict:
        """The body of a /ready answer."""
        missing = []
        if ready < self.expected:
            missing.append(f"{self.expected - ready} of {self.expected} components have not finished their setup")
        return {
            "status": "starting" if missing else "ready",
            "components": {"ready": ready, "expected": self.expected},
            **({"missing": missing} if missing else {}),
        }


def ready_components() -> int:
    """How many sessions of this worker's routers are subscribed to READY_TOPIC. (A process outside
    the router asks the router's meta API instead: router/node/process.py, ready_components.)"""
    count = 0
    for router in list(counting.routers):
        observation = router._broker._subscription_map.get_observation(S.READY_TOPIC)
        if observation is not None:
            count += len(observation.observers)
    return count


def alive(extra: dict) -> Resource:
    """Factory Crossbar calls for the `health` path."""
    return Alive()


def ready(extra: dict) -> Resource:
    """Factory Crossbar calls for the `ready` path; extra "components" is how many to wait for."""
    return Ready(int((extra or {}).get("components", 0)))

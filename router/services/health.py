"""`/health` and `/ready` of the hub's web transport, for load balancers, orchestrators and scripts.

`/health` answers 200 whenever the router worker serves HTTP at all (liveness: restart the hub when
it stops answering). `/ready` answers 200 only once the router's service session has joined and every
component of the config has done its setup (each subscribes to READY_TOPIC then: components/base.py),
and 503 naming what is missing before that (readiness: send no traffic yet). Both are unauthenticated,
answer JSON and leave nothing to log; the router session and the count of components expected are
given by render_config (router/node/process.py), which adds both paths to every hub's web transport.
"""

from __future__ import annotations

import json

from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import uris
from switchboard.router import settings as S
from switchboard.router.services import bridge_session
from twisted.internet.defer import ensureDeferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

log = Logger()


def _answer(request, status: int, body: dict) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(body).encode()


def _only_get(request) -> bytes | None:
    if request.method in (b"GET", b"HEAD"):
        return None
    request.setHeader(b"allow", b"GET, HEAD")
    return _answer(request, 405, {"error": uris.METHOD_NOT_ALLOWED, "message": "use GET"})


class Alive(Resource):
    isLeaf = True

    def render(self, request):
        return _only_get(request) or _answer(request, 200, {"status": "alive"})


class Ready(Resource):
    isLeaf = True

    def __init__(self, expected_components: int, session_provider=bridge_session.current):
        super().__init__()
        self.expected = expected_components
        self._session = session_provider

    def render(self, request):
        refused = _only_get(request)
        if refused:
            return refused
        session = self._session()
        if session is None:
            return _answer(request, 503, self.state(None))
        finished = []
        request.notifyFinish().addBoth(finished.append)

        def reply(ready: int | None) -> None:
            if not finished:
                state = self.state(ready)
                request.write(_answer(request, 200 if state["status"] == "ready" else 503, state))
                request.finish()

        def failed(failure) -> None:
            log.warn("/ready: the router's meta API failed: {error}", error=failure.getErrorMessage())
            reply(None)

        ensureDeferred(ready_components(session)).addCallbacks(reply, failed)
        return NOT_DONE_YET

    def state(self, ready: int | None) -> dict:
        """The body of a /ready answer; `ready` is None when the router could not be asked."""
        missing = []
        if ready is None:
            missing.append("the router's service session has not joined")
        elif ready < self.expected:
            missing.append(f"{self.expected - ready} of {self.expected} components have not finished their setup")
        return {
            "status": "starting" if missing else "ready",
            "components": {"ready": ready or 0, "expected": self.expected},
            **({"missing": missing} if missing else {}),
        }


async def ready_components(session) -> int:
    """How many components have done their setup: READY_TOPIC's subscribers (the router's meta API)."""
    try:
        subscription = await session.call("wamp.subscription.lookup", S.READY_TOPIC)
        if subscription is None:
            return 0
        return await session.call("wamp.subscription.count_subscribers", subscription)
    except ApplicationError:  # the subscription went away between the two calls
        return 0


def alive(extra: dict) -> Resource:
    """Factory Crossbar calls for the `health` path."""
    return Alive()


def ready(extra: dict) -> Resource:
    """Factory Crossbar calls for the `ready` path; extra "components" is how many to wait for."""
    return Ready(int((extra or {}).get("components", 0)))

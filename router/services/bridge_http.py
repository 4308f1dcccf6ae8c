"""The HTTP bridge, served by the hub's web transport at /bridge/ (a Crossbar "resource" service).

Signed requests (switchboard.bridge.signing) publish and call through the in-process bridge session. Parsing and
error mapping are the pure switchboard.bridge.protocol; this module only does the Twisted I/O. docs/http-bridge.md
is the contract.
"""

from __future__ import annotations

from typing import Callable

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallResult, PublishOptions
from switchboard.bridge import limits
from switchboard.bridge import protocol as P
from switchboard.bridge.replay import MAX_NONCES, NonceCache, ReplayCacheFull
from switchboard.bridge.signing import DEFAULT_WINDOW, SignatureError, Verifier
from switchboard.router import settings as S
from switchboard.router.patches.ingress import log_client_error
from switchboard.router.services import bridge_session, metrics, replay_store
from switchboard.router.services.dedupe import MAX_IDS, PublishedIds
from switchboard.router.services.http_answers import json_answer
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred, ensureDeferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

log = Logger()


def create(extra: dict) -> Resource:
    """Factory Crossbar calls with the service's `extra` (see .crossbar/config.json).

    extra "database" is the replay database (resolved into the node directory by render_config):
    nonces and published event ids are checked in memory, written behind there, and still refused
    after a hub restart. Each answer of an operation waits until they are committed.
    """
    key, secret = S.runtime().bridge_key, S.runtime().bridge_secret
    if not secret:
        raise RuntimeError(f"{S.ENV_BRIDGE_SECRET} is not set: the HTTP bridge needs a signing secret")
    database = (extra or {}).get("database", replay_store.DEFAULT_DATABASE)
    nonces = replay_store.open_store(database, replay_store.BRIDGE_NONCES, MAX_NONCES)
    ids = replay_store.open_store(database, replay_store.EVENT_IDS, MAX_IDS)
    replay_store.stop_at_shutdown()
    return BridgeResource(
        Verifier({key: secret}, nonces=NonceCache(2 * DEFAULT_WINDOW, store=nonces)),
        published=PublishedIds(store=ids),
        durable=lambda: replay_store.durable(nonces.writer),
    )


class _Headers:
    """Case-insensitive header lookup over a Twisted request, as Verifier expects."""

    def __init__(self, request):
        self._request = request

    def get(self, name: str) -> str | None:
        # asked by bytes, Twisted answers bytes (by str it decodes UTF-8, and a header that is not raised)
        value = self._request.getHeader(name.encode("latin-1"))
        return value.decode("latin-1") if isinstance(value, bytes) else value


class BridgeResource(Resource):
    isLeaf = True

    def __init__(
        self,
        verifier: Verifier,
        session_provider=bridge_session.current,
        *,
        published: PublishedIds | None = None,
        durable: Callable[[], Deferred] | None = None,
        clock=reactor,
    ):
        """`durable()`: a Deferred firing once the nonces and ids accepted so far are on disk (None: memory only);
        `clock`: what a call's timeout runs on (a test gives a twisted.internet.task.Clock)."""
        super().__init__()
        self._verifier = verifier
        self._session = session_provider
        self._published = PublishedIds() if published is None else published
        self._durable = durable
        self._clock = clock
        self._in_flight: dict[str, Deferred] = {}
        self._max_body, self._max_depth = limits.value("max_message_size"), limits.value("max_depth")
        # endpoint -> (body parser, operation)
        self._routes = {
            name: (parse, self._recorded(operation))
            for name, (parse, operation) in {
                "publish": (P.parse_publish, self._publish),
                "batch": (P.parse_batch, self._batch),
                "call": (P.parse_call, self._call),
            }.items()
        }

    def _recorded(self, operation):
        """`operation`, answering only once its request's nonce (and event ids) are durable: a request
        answered before a crash is still refused, or a duplicate, after it."""
        if self._durable is None:
            return operation

        async def run(session, parsed, finished):
            answer = await operation(session, parsed, finished)
            try:
                await self._durable()
            except ReplayCacheFull as e:
                log.warn("bridge: answered 503, the request could not be recorded: {error}", error=str(e))
                return 503, {
                    "error": P.UNAVAILABLE,
                    "message": "done, but the hub could not record the request: a retry may be run again",
                }
            return answer

        return run

    # --- HTTP plumbing -----------------------------------------------------------------------
    def render(self, request):
        name = b"/".join(p for p in request.postpath if p).decode("utf-8", "replace")
        # for the histogram (_observe): a route's name, else "other", so made-up paths add no label values
        request.switchboard_endpoint = name if name in self._routes or name == "health" else "other"
        request.switchboard_started = self._clock.seconds()
        method = request.method.decode("ascii", "replace")
        if name == "health":
            if method not in ("GET", "HEAD"):
                return self._reply(request, 405, {"error": P.METHOD_NOT_ALLOWED, "message": "use GET"})
            up = self._session() is not None
            return self._reply(request, 200 if up else 503, {"status": "ok" if up else "unavailable"})
        route = self._routes.get(name)
        if route is None:
            return self._reply(request, 404, {"error": P.NOT_FOUND, "message": f"no bridge endpoint {name!r}"})
        if method != "POST":
            return self._reply(request, 405, {"error": P.METHOD_NOT_ALLOWED, "message": "use POST"})
        length = request.getHeader(b"content-length")
        if length and length.isdigit() and int(length) > self._max_body:
            return self._reply(request, 413, {"error": P.TOO_LARGE, "message": f"body over {self._max_body} bytes"})
        try:
            P.check_content_type(_Headers(request).get("content-type"))
        except P.BadRequest as e:
            return self._reply(request, e.status, {"error": e.uri, "message": str(e)})
        body = request.content.read()
        try:
            self._verifier.verify(method, request.uri.decode("utf-8", "replace"), _Headers(request), body)
        except SignatureError as e:
            return self._reply(request, 401, {"error": P.UNAUTHORIZED, "reason": e.reason, "message": str(e)})
        except ReplayCacheFull as e:
            return self._reply(request, 503, {"error": P.UNAVAILABLE, "message": str(e)})
        try:
            parse, operation = route
            parsed = parse(P.parse_json(body, self._max_body, self._max_depth))
        except P.BadRequest as e:
            body = {"error": e.uri, "message": str(e)}
            if e.index is not None:
                body["index"] = e.index
            return self._reply(request, e.status, body)
        session = self._session()
        if session is None:
            return self._reply(request, 503, {"error": P.UNAVAILABLE, "message": "hub is starting; retry"})
        finished = request.notifyFinish()
        d = ensureDeferred(operation(session, parsed, finished))
        d.addCallbacks(lambda result: self._reply_later(request, *result), lambda f: self._fail(request, f))
        return NOT_DONE_YET

    def _reply(self, request, status: int, body: dict) -> bytes:
        """Set status and headers, and count the request (/metrics); the JSON payload is returned
        for render() to hand to Twisted."""
        self._observe(request, status)
        if 400 <= status < 500:
            peer = request.getClientAddress()
            what = f"bridge request {request.method.decode('ascii', 'replace')} /{request.switchboard_endpoint}"
            log_client_error(
                getattr(peer, "host", peer), f"{what} refused: {status} {body.get('error')}", body.get("message")
            )
        return json_answer(request, status, body)

    def _observe(self, request, status: int | str) -> None:
        """The request in the bridge's histogram: its endpoint (set by render), its status and how
        long it took."""
        started = getattr(request, "switchboard_started", None)
        elapsed = 0.0 if started is None else max(0.0, self._clock.seconds() - started)
        metrics.BRIDGE_REQUESTS.labels(getattr(request, "switchboard_endpoint", "other"), str(status)).observe(elapsed)

    def _reply_later(self, request, status: int, body: dict) -> None:
        if request._disconnected or request.finished:
            self._observe(request, "disconnected")  # the client went away; nobody to answer
            return
        request.write(self._reply(request, status, body))
        request.finish()

    def _fail(self, request, failure) -> None:
        log.failure("bridge request failed", failure=failure)
        self._reply_later(request, 500, {"error": "switchboard.error.internal", "message": "internal error"})

    # --- operations ---------------------------------------------------------------------------
    async def _publish_one(self, session, event: P.PublishRequest) -> dict:
        event_id = event.id
        if event_id is not None:
            if event_id in self._published:
                return {"id": event_id, "duplicate": True}
            pending = self._in_flight.get(event_id)
            if pending is not None:  # the same id is being published right now: wait for that one
                waiter = Deferred()
                pending.addBoth(lambda r: (waiter.callback(None), r)[1])
                await waiter
                if event_id in self._published:
                    return {"id": event_id, "duplicate": True}
            self._in_flight[event_id] = marker = Deferred()
        try:
            options = PublishOptions(acknowledge=True, **event.options)
            await session.publish(event.topic, *event.args, options=options, **event.kwargs)
            if event_id is not None:
                self._published.add(event_id)
            return {"id": event_id, "duplicate": False}
        finally:
            if event_id is not None:
                del self._in_flight[event_id]
                marker.callback(None)

    @staticmethod
    def _wamp_error(e: ApplicationError, **extra) -> tuple[int, dict]:
        return P.status_for_error(e.error), P.error_body(e.error, e.args, e.kwargs, **extra)

    async def _publish(self, session, event, finished):
        try:
            return 200, await self._publish_one(session, event)
        except ApplicationError as e:
            return self._wamp_error(e)

    async def _batch(self, session, events, finished):
        """Every event sent at once, in order (one session's publishes reach the router in the order
        sent), then their acknowledgements taken in order: a batch waits about one acknowledgement,
        not one per event (an acknowledgement of a history topic waits for its commit,
        router/patches/durable_ack.py)."""
        sent = [ensureDeferred(self._publish_one(session, event)) for event in events]
        results: list[dict] = []
        refused = None
        for index, publishing in enumerate(sent):
            try:
                result = await publishing
            except ApplicationError as e:
                refused = refused or (index, e)
                continue
            if refused is None:
                results.append(result)
        if refused is not None:
            index, e = refused
            return self._wamp_error(e, index=index, results=results)
        return 200, {"results": results}

    async def _call(self, session, call: P.CallRequest, finished):
        d = session.call(call.procedure, *call.args, **call.kwargs)
        expired = []

        def expire():
            expired.append(True)
            d.cancel()  # WAMP CANCEL: the router interrupts the callee

        timer = self._clock.callLater(call.timeout, expire)
        finished.addErrback(lambda _: d.cancel())  # the HTTP client went away: cancel the call too
        try:
            result = await d
        except (CancelledError, ApplicationError) as e:
            if expired:
                return 504, P.error_body(P.TIMEOUT, [f"no result within {call.timeout:g}s; the call was cancelled"])
            if isinstance(e, CancelledError):
                raise
            return self._wamp_error(e)
        finally:
            if timer.active():
                timer.cancel()
        if isinstance(result, CallResult):
            return 200, {"args": list(result.results), "kwargs": dict(result.kwresults)}
        return 200, {"args": [] if result is None else [result], "kwargs": {}}

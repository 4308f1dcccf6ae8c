"""The HTTP bridge, served by the hub's web transport at /bridge/ (a Crossbar "resource" service).

Signed requests (switchboard.bridge.signing) publish and call through the in-process bridge session. Parsing and
error mapping are the pure switchboard.bridge.protocol; this module only does the Twisted I/O. docs/http-bridge.md
is the contract.

On a cluster node (SWITCHBOARD_REDIS_URL) the nonce and the event ids are checked in Redis instead
(router/cluster/replay.py, on a thread), so a request is accepted once, and an id published once,
whichever node it reaches: the nonce's answer comes after the render, so such a request is answered
later (NOT_DONE_YET), with the same statuses and bodies as on a node of its own, and 503 when Redis
cannot check it.
"""

from __future__ import annotations

from typing import Callable

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallResult, PublishOptions
from switchboard.bridge import limits
from switchboard.bridge import protocol as P
from switchboard.bridge.replay import MAX_NONCES, NonceCache, ReplayCacheFull
from switchboard.bridge.signing import DEFAULT_WINDOW, REPLAYED_MESSAGE, SignatureError, Verifier
from switchboard.router import settings as S
from switchboard.router.cluster import claims, wire
from switchboard.router.cluster import replay as cluster_replay
from switchboard.router.patches.ingress import log_client_error
from switchboard.router.services import bridge_session, metrics, replay_store
from switchboard.router.services.dedupe import ID_TTL, MAX_IDS, PublishedIds
from switchboard.router.services.http_answers import json_answer
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred, ensureDeferred
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

log = Logger()

#: the realm whose Redis keys the bridge uses when its config gives none (render_config gives it)
DEFAULT_REALM = "switchboard"
#: seconds a nonce is remembered: twice the signing window, as on a node of its own
NONCE_TTL = 2 * DEFAULT_WINDOW


def create(extra: dict) -> Resource:
    """Factory Crossbar calls with the service's `extra` (see .crossbar/config.json).

    extra "database" is the replay database (resolved into the node directory by render_config):
    nonces and published event ids are checked in memory, written behind there, and still refused
    after a hub restart. Each answer of an operation waits until they are committed.
    """
    key, secret = S.runtime().bridge_key, S.runtime().bridge_secret
    if not secret:
        raise RuntimeError(f"{S.ENV_BRIDGE_SECRET} is not set: the HTTP bridge needs a signing secret")
    if S.runtime().redis_url:  # a cluster node: nonces and ids in Redis, no replay database
        return BridgeResource(
            Verifier({key: secret}),
            shared=cluster_replay.shared(S.runtime().redis_url),
            realm=(extra or {}).get("realm") or DEFAULT_REALM,
        )
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
        shared: cluster_replay.SharedReplay | None = None,
        realm: str = DEFAULT_REALM,
    ):
        """`durable()`: a Deferred firing once the nonces and ids accepted so far are on disk (None: memory only);
        `clock`: what a call's timeout runs on (a test gives a twisted.internet.task.Clock); `shared`: the
        cluster's replay memory in Redis (nonces and ids are then checked there, under `realm`'s keys)."""
        super().__init__()
        self._verifier = verifier
        self._shared, self._realm = shared, realm
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
        path, nonce = request.uri.decode("utf-8", "replace"), None
        try:
            if self._shared is None:
                self._verifier.verify(method, path, _Headers(request), body)
            else:
                _, nonce = self._verifier.authentic(method, path, _Headers(request), body)
        except SignatureError as e:
            return self._reply(request, 401, {"error": P.UNAUTHORIZED, "reason": e.reason, "message": str(e)})
        except ReplayCacheFull as e:
            return self._reply(request, 503, {"error": P.UNAVAILABLE, "message": str(e)})
        parse, operation = route
        try:
            parsed, refused = parse(P.parse_json(body, self._max_body, self._max_depth)), None
        except P.BadRequest as e:
            parsed, refused = None, (e.status, {"error": e.uri, "message": str(e)})
            if e.index is not None:
                refused[1]["index"] = e.index
        if nonce is None:
            answer = refused or self._dispatch(request, operation, parsed)
            return NOT_DONE_YET if answer is None else self._reply(request, *answer)
        # a cluster node: the nonce first (as verify() does), answered once Redis has
        d = self._shared.first_use(wire.replay_key(self._realm, replay_store.BRIDGE_NONCES, nonce), NONCE_TTL)
        d.addCallbacks(
            lambda first: self._after_nonce(request, first, refused, operation, parsed),
            lambda f: self._nonce_unchecked(request, f),
        )
        return NOT_DONE_YET

    def _dispatch(self, request, operation, parsed) -> tuple[int, dict] | None:
        """Start the operation (answered later, None), or the answer if it cannot start."""
        session = self._session()
        if session is None:
            return 503, {"error": P.UNAVAILABLE, "message": "hub is starting; retry"}
        finished = request.notifyFinish()
        d = ensureDeferred(operation(session, parsed, finished))
        d.addCallbacks(lambda result: self._reply_later(request, *result), lambda f: self._fail(request, f))
        return None

    def _after_nonce(self, request, first: bool, refused, operation, parsed) -> None:
        if not first:
            answer = 401, {"error": P.UNAUTHORIZED, "reason": "replayed", "message": REPLAYED_MESSAGE}
        elif request._disconnected or request.finished:
            answer = None
            self._observe(request, "disconnected")
        else:
            answer = refused or self._dispatch(request, operation, parsed)
        if answer is not None:
            self._reply_later(request, *answer)

    def _nonce_unchecked(self, request, failure) -> None:
        if not failure.check(ReplayCacheFull):
            return self._fail(request, failure)
        self._reply_later(request, 503, {"error": P.UNAVAILABLE, "message": failure.getErrorMessage()})

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
        if event_id is not None and self._shared is not None:
            return await self._publish_once_in_cluster(session, event)
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

    async def _publish_once_in_cluster(self, session, event: P.PublishRequest) -> dict:
        """_publish_one with the id claimed in Redis (router/cluster/claims.py): a claim another node (or
        request) holds is waited for, then is a duplicate, or ours if that publish failed."""
        key = wire.replay_key(self._realm, replay_store.EVENT_IDS, event.id)
        while (state := await self._shared.claim_id(key)) == claims.PENDING:
            await deferLater(self._clock, claims.POLL_SECONDS, lambda: None)
        if state == claims.DONE:
            return {"id": event.id, "duplicate": True}
        try:
            options = PublishOptions(acknowledge=True, **event.options)
            await session.publish(event.topic, *event.args, options=options, **event.kwargs)
        except BaseException:
            self._shared.release_id(key).addErrback(lambda _: None)  # else the claim lapses after PENDING_TTL
            raise
        try:
            await self._shared.id_done(key, ID_TTL)
        except ReplayCacheFull:
            raise ReplayCacheFull("published, but the hub could not record its id: a retry may publish it again")
        return {"id": event.id, "duplicate": False}

    @staticmethod
    def _unrecorded(e: ReplayCacheFull, **extra) -> tuple[int, dict]:
        return 503, {"error": P.UNAVAILABLE, "message": str(e), **extra}

    @staticmethod
    def _wamp_error(e: ApplicationError, **extra) -> tuple[int, dict]:
        return P.status_for_error(e.error), P.error_body(e.error, e.args, e.kwargs, **extra)

    async def _publish(self, session, event, finished):
        try:
            return 200, await self._publish_one(session, event)
        except ApplicationError as e:
            return self._wamp_error(e)
        except ReplayCacheFull as e:  # a cluster node: Redis could not check or record the id
            return self._unrecorded(e)

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
            except (ApplicationError, ReplayCacheFull) as e:
                refused = refused or (index, e)
                continue
            if refused is None:
                results.append(result)
        if refused is not None:
            index, e = refused
            if isinstance(e, ReplayCacheFull):
                return self._unrecorded(e, index=index, results=results)
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

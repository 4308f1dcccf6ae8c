"""Check what each client sends the router before Crossbar acts on it.

Crossbar trusts its decoders and its clients more than a public hub can:

- Autobahn decodes JSON with a recursive pure-Python scanner, and a crossbar dependency (py_ecc)
  raises the interpreter's recursion limit to 100,000 at import: one frame of 100,000 `[` held the
  router for about 106 s, and a deep bridge body overflowed the C stack (SIGSEGV). Every worker
  puts the limit back (`RECURSION_LIMIT`), and JSON is measured for depth before it is decoded.
- A value one serializer cannot carry (an integer past 2**64, NaN, a CBOR datetime) reached JSON
  subscribers and silently not MessagePack ones; a callee's result of that kind left its caller
  waiting. It is now refused where it enters: a CALL or acknowledged PUBLISH gets
  `switchboard.error.invalid_payload`, a callee's YIELD or ERROR turns into that error for the caller.
- Browser sessions (every role but backend) get token buckets on calls and publishes
  (`switchboard.error.rate_limited`) and a cap on subscriptions (`switchboard.error.limit_exceeded`).
- A client's protocol error wrote a multi-line critical traceback; it is now one line (and at most
  `LOG_LINES_PER_WINDOW` such lines per `LOG_WINDOW` seconds, then a count), and the connection is
  closed as before (WebSocket 1002, RawSocket abort). Autobahn's own per-connection warnings on the
  server protocols share that throttle.

The limits come from bridge/limits.py, read once when the router worker installs this module.
"""

from __future__ import annotations

import sys
import time

from autobahn.wamp import message
from autobahn.wamp.exception import InvalidUriError, ProtocolError
from autobahn.wamp.serializer import JsonObjectSerializer, Serializer
from autobahn.wamp.websocket import WampWebSocketProtocol
from autobahn.websocket.protocol import WebSocketProtocol
from switchboard.bridge import limits
from switchboard.bridge.payload import TOO_DEEP, PayloadError, check_json_nesting, check_value
from switchboard.bridge.ratelimit import TokenBucket
from switchboard.router import settings as S
from switchboard.router.patches.workerproc import in_crossbar_worker
from switchboard.router.services import counters
from twisted.logger import Logger

log = Logger(namespace="switchboard.ingress")

#: CPython's own default: deep enough for Crossbar and Twisted, shallow enough that runaway recursion
#: fails in milliseconds with a RecursionError instead of minutes or a C stack overflow
RECURSION_LIMIT = 1000
#: protocol-error log lines per window, then one line with the count of those left out
LOG_LINES_PER_WINDOW = 20
LOG_WINDOW = 10.0

#: roles whose sessions are trusted with any rate and any number of subscriptions
TRUSTED_ROLES = frozenset({S.BACKEND_ROLE})
_PAYLOAD_MESSAGES = (message.Call, message.Publish, message.Yield, message.Error)
#: what a client may send while no session is joined (before WELCOME, or after GOODBYE)
_UNJOINED_MESSAGES = (message.Hello, message.Authenticate, message.Abort)

_limits: dict[str, float] = {}
_stock_json_unserialize = JsonObjectSerializer.unserialize
_stock_fail_connection = WebSocketProtocol._fail_connection
#: the peer whose connection Autobahn is failing right now (for its log line)
_failing_peer = None
_stock_unserialize = Serializer.unserialize
_stock_router_on_message = None
_installed = False


class _LogThrottle:
    """At most `lines` log lines per `window` seconds; the rest are counted and reported once."""

    def __init__(self, lines: int, window: float, clock=time.monotonic):
        self._lines, self._window, self._clock = lines, window, clock
        self._start, self._used, self._dropped = -window, 0, 0

    def allow(self) -> bool:
        now = self._clock()
        if now - self._start >= self._window:
            if self._dropped:
                log.warn(
                    "{n} more client protocol errors in the last {w:.0f}s were not logged",
                    n=self._dropped,
                    w=self._window,
                )
            self._start, self._used, self._dropped = now, 0, 0
        if self._used < self._lines:
            self._used += 1
            return True
        self._dropped += 1
        return False


_throttle = _LogThrottle(LOG_LINES_PER_WINDOW, LOG_WINDOW)


class ThrottledWarnings:
    """A protocol class's logger whose warnings (Autobahn's "failing WebSocket connection",
    "dropping connection to peer", RawSocket's "WAMP ProtocolError - aborting connection") are
    about one client each: they share the client-error throttle and are kept to one line. Every
    other level is the logger's own method, looked up once (no delegation on the hot path)."""

    LEVELS = ("critical", "error", "info", "debug", "trace", "failure", "emit")

    def __init__(self, logger):
        self._logger = logger
        for level in self.LEVELS:
            if hasattr(logger, level):
                setattr(self, level, getattr(logger, level))

    def warn(self, format: str, **kwargs) -> None:
        if not _throttle.allow():
            return
        if _failing_peer is not None and "{peer}" not in format:
            format, kwargs = "client {peer}: " + format, {**kwargs, "peer": _failing_peer}
        self._logger.warn(format.replace("\n", " "), **kwargs)

    def __getattr__(self, name):
        return getattr(self._logger, name)


def _fail_connection(self, *args, **kwargs):
    """Autobahn's, with the peer known to the one line it logs."""
    global _failing_peer
    _failing_peer = getattr(self, "peer", None)
    try:
        return _stock_fail_connection(self, *args, **kwargs)
    finally:
        _failing_peer = None


def log_client_error(peer, what: str, reason) -> None:
    """One line for a client's bad input, throttled so that a flood cannot fill the disk."""
    if _throttle.allow():
        log.warn("client {peer}: {what}: {reason}", peer=peer, what=what, reason=str(reason)[:300])


# --- decoding ---------------------------------------------------------------------------------
def _json_unserialize(self, payload):
    """Autobahn's JSON decoding, after measuring the text's nesting (the decoder recurses per level)."""
    check_json_nesting(payload, int(_limits["max_depth"]))
    return _stock_json_unserialize(self, payload)


def _unserialize(self, payload: bytes, isBinary: bool | None = None):
    """Autobahn's WAMP message parsing, where anything a client's bytes make it raise is that
    client's protocol error: e.g. check_or_raise_id formats a refused id into its message, and an
    integer of over 4300 digits (a CBOR bignum) makes str() raise ValueError."""
    try:
        return _stock_unserialize(self, payload, isBinary)
    except (ProtocolError, InvalidUriError):
        raise
    except Exception as e:
        raise ProtocolError(f"invalid WAMP message: {type(e).__name__}: {str(e)[:200]}") from None


def _rs_length_limit_exceeded(self, length: int) -> None:
    """A RawSocket message announced over the negotiated maximum: one line and abort (Autobahn
    raised out of Twisted's dataReceived, logged as an unhandled error with a traceback)."""
    log_client_error(
        getattr(self, "peer", "?"),
        "RawSocket message over the size limit, aborting",
        f"{length} bytes announced, at most {self.MAX_LENGTH}",
    )
    self.transport.abortConnection()


def _ws_on_message(self, payload: bytes, isBinary: bool):
    """Autobahn's WAMP-over-WebSocket receive, with a client's protocol error logged as one line (the
    close's own: "client <peer>: failing WebSocket connection (code=1002): ...")."""
    try:
        messages = self._serializer.unserialize(payload, isBinary)
        for msg in messages:
            self._session.onMessage(msg)
    except (ProtocolError, InvalidUriError) as e:  # Autobahn's parser raises InvalidUriError for a bad URI
        self._bailout(WebSocketProtocol.CLOSE_STATUS_CODE_PROTOCOL_ERROR, reason=f"WAMP Protocol Error ({e})")
    except Exception as e:
        log.failure("WAMP message from {peer} failed", peer=getattr(self, "peer", "?"))
        self._bailout(WebSocketProtocol.CLOSE_STATUS_CODE_INTERNAL_ERROR, reason=f"WAMP Internal Error ({e})")


# --- the router session -----------------------------------------------------------------------
def _refuse(session, request_type: int, request: int, uri: str, text: str) -> None:
    counters.refused[uri] += 1
    session._transport.send(message.Error(request_type, request, uri, args=[text]))
    log_client_error(session._transport.peer, f"refused with {uri}", text)


def _payload_refusal(msg) -> PayloadError | None:
    depth = int(_limits["max_depth"]) - 1  # the message's own list is the first level
    try:
        if msg.args:
            check_value(msg.args, depth, "args")
        if msg.kwargs:
            check_value(msg.kwargs, depth, "kwargs")
    except PayloadError as e:
        if e.uri == TOO_DEEP:
            raise ProtocolError(str(e)) from None
        return e
    return None


def _buckets(session) -> tuple[TokenBucket | None, TokenBucket | None]:
    buckets = session.__dict__.get("_sb_buckets")
    if buckets is None:
        rate, burst = _limits["calls_per_second"], _limits["call_burst"]
        calls = TokenBucket(rate, burst) if rate else None
        rate, burst = _limits["publishes_per_second"], _limits["publish_burst"]
        publishes = TokenBucket(rate, burst) if rate else None
        buckets = session._sb_buckets = (calls, publishes)
    return buckets


def _on_message(self, msg):
    """Crossbar's RouterSession.onMessage, after the checks this module's docstring lists."""
    kind = type(msg)
    # Crossbar drops any other message while no session is joined, and only logs a warning for a
    # HELLO in a joined session (its `raise ProtocolError` is commented out): the connection stayed
    # open with the client's request unanswered, or wrote a warning per message. Both close it.
    if self._session_id is None:
        if kind not in _UNJOINED_MESSAGES:
            raise ProtocolError(f"{kind.__name__.upper()} while no session is joined (before WELCOME or after GOODBYE)")
        if kind is message.Abort and self._router is not None and self._session_details is None:
            # after GOODBYE Crossbar would handle it as the leave of a session that already left (and
            # fail reading its details: a traceback and close 1011)
            raise ProtocolError("ABORT after GOODBYE: the session has already left")
    elif kind is message.Hello:
        raise ProtocolError("HELLO in a session that is already joined")
    if kind in _PAYLOAD_MESSAGES:
        trusted = self._authrole in TRUSTED_ROLES
        if not trusted and kind is message.Call:
            calls = _buckets(self)[0]
            if calls is not None and not calls.try_take():
                return _refuse(
                    self,
                    message.Call.MESSAGE_TYPE,
                    msg.request,
                    limits.RATE_LIMITED,
                    f"more than {_limits['calls_per_second']:g} calls/s; slow down",
                )
        elif not trusted and kind is message.Publish:
            publishes = _buckets(self)[1]
            if publishes is not None and not publishes.try_take():
                if msg.acknowledge:
                    return _refuse(
                        self,
                        message.Publish.MESSAGE_TYPE,
                        msg.request,
                        limits.RATE_LIMITED,
                        f"more than {_limits['publishes_per_second']:g} publishes/s; slow down",
                    )
                counters.refused[limits.RATE_LIMITED] += 1
                return log_client_error(self._transport.peer, "publish dropped", "over the publish rate limit")
        refusal = _payload_refusal(msg)
        if refusal is not None:
            if kind is message.Call:
                return _refuse(self, message.Call.MESSAGE_TYPE, msg.request, refusal.uri, str(refusal))
            if kind is message.Publish:
                if msg.acknowledge:
                    return _refuse(self, message.Publish.MESSAGE_TYPE, msg.request, refusal.uri, str(refusal))
                counters.refused[refusal.uri] += 1
                return log_client_error(self._transport.peer, "publish dropped", refusal)
            # a callee's YIELD or ERROR: its caller gets the refusal instead of waiting for ever
            counters.refused[refusal.uri] += 1
            request_type = message.Invocation.MESSAGE_TYPE if kind is message.Yield else msg.request_type
            msg = message.Error(request_type, msg.request, refusal.uri, args=[f"the callee's answer: {refusal}"])
    elif kind is message.Subscribe and self._authrole not in TRUSTED_ROLES:
        held = self._router._broker._session_to_subscriptions.get(self) if self._router else None
        cap = int(_limits["max_subscriptions"])
        if held is not None and len(held) >= cap:
            return _refuse(
                self,
                message.Subscribe.MESSAGE_TYPE,
                msg.request,
                limits.LIMIT_EXCEEDED,
                f"a session may hold at most {cap} subscriptions",
            )
    elif kind is message.Hello or kind is message.Authenticate:
        try:
            check_value(
                msg.authextra if kind is message.Hello else msg.extra, int(_limits["max_depth"]) - 2, "authextra"
            )
        except PayloadError as e:
            raise ProtocolError(str(e)) from None
    return _stock_router_on_message(self, msg)


def install(force: bool = False) -> bool:
    """In a Crossbar worker (or with `force`): the recursion limit back to CPython's, JSON measured
    before decoding, and client protocol errors as one line; in the router worker also the router
    session's checks. Returns whether it is (now) installed."""
    global _installed, _stock_router_on_message
    if _installed:
        return True
    if not (force or in_crossbar_worker()) or not S.guards_on():
        return False
    sys.setrecursionlimit(RECURSION_LIMIT)
    _limits.update(limits.read())
    JsonObjectSerializer.unserialize = _json_unserialize
    Serializer.unserialize = _unserialize
    from autobahn.twisted.rawsocket import WampRawSocketProtocol  # Twisted-only: imported where it runs

    WampRawSocketProtocol.lengthLimitExceeded = _rs_length_limit_exceeded
    WampWebSocketProtocol.onMessage = _ws_on_message
    WebSocketProtocol._fail_connection = _fail_connection
    from crossbar.router import protocol
    from crossbar.router.session import RouterSession

    for server_protocol in (protocol.WampWebSocketServerProtocol, protocol.WampRawSocketServerProtocol):
        server_protocol.log = ThrottledWarnings(server_protocol.log)

    _stock_router_on_message = RouterSession.onMessage
    RouterSession.onMessage = _on_message
    _installed = True
    return True

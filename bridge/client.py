"""A synchronous client for the hub's HTTP bridge (docs/http-bridge.md): Django publishes and calls with it.

    from switchboard.bridge.client import HubClient

    with HubClient(url="http://127.0.0.1:8080/bridge/", key="django", secret=SECRET) as hub:
        hub.publish("notes.created", {"id": 7})
        assert hub.call("demo.add2", 2, 3) == 5

Plain blocking code on urllib3 (keep-alive connection pool, thread-safe: share one client per
process). No Twisted, no event loop, no crossbar. Every request is signed afresh, retries included,
because the hub accepts each nonce once. Publishing is retried on transient failures (events carry
ids, the hub drops repeats); calls only when the hub certainly did not run them (switchboard.bridge.retry).
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, TypeVar
from urllib.parse import urlsplit

import urllib3
from switchboard.bridge import protocol
from switchboard.bridge.errors import BadRequest, HubUnavailable, SwitchboardError, interpret
from switchboard.bridge.payload import PayloadError, check_value
from switchboard.bridge.retry import backoff_delays, should_retry
from switchboard.bridge.signing import sign_request
from urllib3.exceptions import ConnectTimeoutError, HTTPError, ReadTimeoutError
from urllib3.util import parse_url

log = logging.getLogger(__name__)

#: The hub's limits and names (shared with the router, so both refuse the same requests).
MAX_BODY = protocol.MAX_BODY  # larger bodies get 413, so they are refused before sending
MAX_BATCH = protocol.MAX_BATCH
MAX_ID_LENGTH = protocol.MAX_EVENT_ID_LENGTH
MAX_CALL_TIMEOUT = protocol.MAX_CALL_TIMEOUT
PUBLISH_OPTIONS = frozenset(protocol.PUBLISH_OPTIONS)
RESERVED_KWARGS = protocol.RESERVED_KWARGS
#: The HTTP read timeout of a call exceeds the call's own timeout by this much, so the hub's 504 comes first.
CALL_TIMEOUT_MARGIN = 2.0
EVENT_FIELDS = frozenset({"topic", "args", "kwargs", "id", "options"})
_USER_AGENT = "switchboard-bridge-client/1"

T = TypeVar("T")


@dataclass(frozen=True)
class PublishResult:
    """`duplicate` is True when the hub had already published this id (possibly from an earlier try)."""

    id: str
    duplicate: bool


@dataclass(frozen=True)
class CallResult:
    """A call's result when it is not exactly one positional value."""

    args: list
    kwargs: dict


class HubClient:
    """Signed, retrying requests to one hub's bridge.

    `timeout`: seconds to wait for the hub (and the default call timeout); `retries`: further tries
    after the first, waiting about `backoff`·2^n seconds before each; `pool_size`: keep-alive
    connections kept open (more concurrent threads still work, their extra connections are closed).
    """

    def __init__(
        self,
        url: str,
        key: str,
        secret: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.2,
        pool_size: int = 10,
    ):
        if not isinstance(key, str) or not key:
            raise ValueError("key must be a non-empty string (SWITCHBOARD_BRIDGE_KEY)")
        if not isinstance(secret, str) or not secret:
            raise ValueError("secret must be a non-empty string (SWITCHBOARD_BRIDGE_SECRET)")
        if not _is_number(timeout) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an int >= 0, not {retries!r}")
        if not _is_number(backoff) or backoff < 0:
            raise ValueError(f"backoff must be a number of seconds >= 0, not {backoff!r}")
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise ValueError(f"pool_size must be an int >= 1, not {pool_size!r}")
        self.url = _base_url(url)
        self.key, self._secret = key, secret
        self.timeout, self.retries, self.backoff, self.pool_size = float(timeout), retries, float(backoff), pool_size
        self._http = urllib3.PoolManager(
            num_pools=4, maxsize=pool_size, block=False, headers={"User-Agent": _USER_AGENT}
        )
        # Injection points for tests: where jitter comes from and how retries wait.
        self._random: Callable[[], float] = random.random
        self._sleep: Callable[[float], None] = time.sleep

    def __repr__(self) -> str:
        return f"HubClient(url={self.url!r}, key={self.key!r})"

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, topic: str, *args: Any, **kwargs: Any) -> PublishResult:
        """Publish one event with a fresh id; positional and keyword arguments are the event's payload."""
        return self.publish_event(topic, args, kwargs)

    def publish_event(
        self,
        topic: str,
        args: list | tuple = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        id: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> PublishResult:
        """Publish one event. Pass your own `id` to make a repeat of this publish (say, a re-run job) a no-op."""
        what = f"publish({topic!r})"
        event = _event({"topic": topic, "args": args, "kwargs": kwargs, "id": id, "options": options}, what)
        body = _dumps(event, what)
        _check_size(body, what)
        data = self._with_retries(lambda: self._post("publish", body, self.timeout), idempotent=True)
        return _publish_result(data)

    def publish_many(self, events: Iterable[Mapping[str, Any]]) -> list[PublishResult]:
        """Publish events in order, up to 1000 per request; the results are in the same order.

        Every event is checked before any is sent. If the hub refuses one, the error raised carries
        `index` (of that event in `events`, when known) and `results` (the events published before it).
        """
        encoded: list[bytes] = []
        for i, raw in enumerate(events):
            what = f"publish_many: events[{i}]"
            if not isinstance(raw, Mapping):
                raise TypeError(f"{what} must be a dict with a 'topic', not {type(raw).__name__}")
            unknown = set(raw) - EVENT_FIELDS
            if unknown:
                raise BadRequest(f"{what} has unknown field(s) {sorted(unknown)}; an event has {sorted(EVENT_FIELDS)}")
            if "topic" not in raw:
                raise BadRequest(f"{what} has no 'topic'")
            event_bytes = _dumps(_event(dict(raw), what), what)
            _check_size(_batch_body([event_bytes]), what)
            encoded.append(event_bytes)

        results: list[PublishResult] = []
        for offset, chunk in _chunks(encoded):
            try:
                self._publish_chunk(chunk, offset, results)
            except SwitchboardError as e:
                e.results = list(results)
                raise
        return results

    def _publish_chunk(self, chunk: list[bytes], offset: int, results: list[PublishResult]) -> None:
        """One batch, appended to `results` as the hub confirms it; a retry resends only what is not confirmed."""

        def attempt() -> None:
            confirmed = len(results) - offset
            pending = chunk[confirmed:]
            try:
                data = self._post("batch", _batch_body(pending), self.timeout)
            except SwitchboardError as e:
                index, published = _refused_at(e.body, len(pending))
                if index is not None:
                    results.extend(published)
                    e.index = offset + confirmed + index
                raise
            items = data.get("results") if isinstance(data, dict) else None
            if not isinstance(items, list) or len(items) != len(pending):
                raise SwitchboardError(
                    f"the hub answered a batch of {len(pending)} events with {data!r:.200}", status=200
                )
            results.extend(_publish_result(item) for item in items)

        self._with_retries(attempt, idempotent=True)

    # -- calling ------------------------------------------------------------------------------

    def call(self, procedure: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Call a procedure and return its result: the value itself when it is one positional value,
        None when empty, else CallResult(args, kwargs). WAMP errors raise typed SwitchboardErrors.

        `timeout` (seconds, default the client's) is enforced by the hub, which cancels the call at
        the callee and answers 504 (CallTimeout).
        """
        return self.call_with(procedure, args, kwargs, timeout=timeout)

    def call_with(
        self, procedure: str, args: list | tuple = (), kwargs: Mapping[str, Any] | None = None, *, timeout=None
    ) -> Any:
        """call(), with the arguments given as data: keyword arguments named `timeout` or
        `procedure` reach the procedure."""
        kwargs = {} if kwargs is None else kwargs
        what = f"call({procedure!r})"
        if timeout is None:
            timeout = min(self.timeout, MAX_CALL_TIMEOUT)
        elif not _is_number(timeout):
            raise TypeError(f"{what}: timeout must be a number of seconds, not {type(timeout).__name__}")
        elif not 0 < timeout <= MAX_CALL_TIMEOUT:
            raise BadRequest(
                f"{what}: timeout must be more than 0 and at most {MAX_CALL_TIMEOUT:g} seconds, not {timeout!r}"
            )
        _check_uri(procedure, "procedure", what)
        payload = {
            "procedure": procedure,
            "args": _args(args, what),
            "kwargs": _kwargs(kwargs, what),
            "timeout": timeout,
        }
        body = _dumps(payload, what)
        _check_size(body, what)
        data = self._with_retries(lambda: self._post("call", body, timeout + CALL_TIMEOUT_MARGIN), idempotent=False)
        if not isinstance(data, dict):
            raise SwitchboardError(f"{what}: the hub answered {data!r:.200}", status=200)
        result_args = data.get("args") or []
        result_kwargs = data.get("kwargs") or {}
        if not result_kwargs:
            if not result_args:
                return None
            if len(result_args) == 1:
                return result_args[0]
        return CallResult(list(result_args), dict(result_kwargs))

    # -- health and lifecycle -----------------------------------------------------------------

    def health(self) -> bool:
        """True when the hub answers and its bridge session is joined; False when unreachable or not ready.

        Not retried. Answers that mean a misconfiguration (e.g. 404: no bridge at this url) raise.
        """
        try:
            status, body = self._exchange("GET", "health", b"", self.timeout, signed=False)
        except HubUnavailable:
            return False
        if status == 503:
            return False
        data = interpret(status, body)
        return isinstance(data, dict) and data.get("status") == "ok"

    def close(self) -> None:
        """Close the pooled connections (a later request opens new ones)."""
        self._http.clear()

    def __enter__(self) -> "HubClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- HTTP ---------------------------------------------------------------------------------

    def _with_retries(self, attempt: Callable[[], T], *, idempotent: bool) -> T:
        delays = backoff_delays(self.retries, self.backoff, rand=self._random)
        while True:
            try:
                return attempt()
            except SwitchboardError as error:
                delay = next(delays, None)
                if delay is None or not should_retry(error, idempotent=idempotent):
                    raise
                log.info("bridge request failed (%s), retrying in %.2fs", error, delay)
                self._sleep(delay)

    def _post(self, endpoint: str, body: bytes, read_timeout: float) -> Any:
        status, answer = self._exchange("POST", endpoint, body, read_timeout)
        return interpret(status, answer)

    def _exchange(
        self, method: str, endpoint: str, body: bytes, read_timeout: float, *, signed: bool = True
    ) -> tuple[int, bytes]:
        """One request, signed now (fresh timestamp and nonce); connection failures become HubUnavailable."""
        url = self.url + endpoint
        headers = {"Accept": "application/json"}
        if method == "POST":
            headers["Content-Type"] = "application/json"
        if signed:
            headers.update(sign_request(self.key, self._secret, method, parse_url(url).request_uri, body))
        timeout = urllib3.Timeout(connect=min(self.timeout, read_timeout), read=read_timeout)
        try:
            response = self._http.request(
                method,
                url,
                body=body if method != "GET" else None,
                headers=headers,
                timeout=timeout,
                retries=False,
                redirect=False,
            )
        except ConnectTimeoutError as e:  # includes NewConnectionError: nothing was sent
            raise HubUnavailable(f"cannot connect to the hub at {self.url}: {_reason(e)}") from e
        except ReadTimeoutError as e:
            raise HubUnavailable(
                f"no answer from the hub within {read_timeout:g}s ({method} {url})", maybe_processed=True
            ) from e
        except HTTPError as e:  # reset, aborted, protocol error: the request may have arrived
            raise HubUnavailable(
                f"connection to the hub failed during {method} {url}: {_reason(e)}", maybe_processed=True
            ) from e
        return response.status, response.data


# -- pure helpers --------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _reason(error: Exception) -> str:
    return str(getattr(error, "reason", None) or error)


def _base_url(url: str) -> str:
    if not isinstance(url, str):
        raise TypeError(f"url must be a string, not {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url must be http(s)://host[:port]/bridge/, not {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"url must not have a query or fragment: {url!r}")
    return url if url.endswith("/") else url + "/"


def _check_uri(value: Any, field: str, what: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{what}: {field} must be a str, not {type(value).__name__}")
    if not protocol.URI_PATTERN.fullmatch(value):
        raise BadRequest(
            f"{what}: {value!r} is not a valid {field} URI "
            "(dot-separated non-empty parts without spaces or '#', e.g. 'notes.created')"
        )
    if value.startswith("wamp."):
        raise BadRequest(f"{what}: {field} URIs under 'wamp.' are reserved for the router")


def _args(value: Any, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{what}: args must be a list or tuple, not {type(value).__name__}")
    return list(value)


def _kwargs(value: Any, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{what}: kwargs must be a dict, not {type(value).__name__}")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise TypeError(f"{what}: kwargs keys must be str, not {bad[0]!r}")
    reserved = RESERVED_KWARGS.intersection(value)
    if reserved:
        raise BadRequest(
            f"{what}: the keyword argument name(s) {sorted(reserved)} are reserved by the bridge "
            "(for publish options use publish_event(..., options={...}))"
        )
    return dict(value)


def _event(raw: dict, what: str) -> dict:
    """A publish/batch event body from user input, checked; the id is generated when missing."""
    _check_uri(raw.get("topic"), "topic", what)
    event = {"topic": raw["topic"], "args": _args(raw.get("args"), what), "kwargs": _kwargs(raw.get("kwargs"), what)}
    event_id = raw.get("id")
    if event_id is None:
        event_id = uuid.uuid4().hex
    elif not isinstance(event_id, str):
        raise TypeError(f"{what}: id must be a str, not {type(event_id).__name__}")
    elif not 1 <= len(event_id) <= MAX_ID_LENGTH:
        raise BadRequest(f"{what}: id must be 1 to {MAX_ID_LENGTH} characters, not {len(event_id)}")
    event["id"] = event_id
    options = raw.get("options")
    if options is not None:
        if not isinstance(options, Mapping):
            raise TypeError(f"{what}: options must be a dict, not {type(options).__name__}")
        unknown = set(options) - PUBLISH_OPTIONS
        if unknown:
            raise BadRequest(
                f"{what}: unknown publish option(s) {sorted(unknown)}; the bridge takes {sorted(PUBLISH_OPTIONS)}"
            )
        event["options"] = dict(options)
    return event


def _dumps(payload: Any, what: str) -> bytes:
    """Compact JSON; a value JSON cannot carry raises TypeError naming where it is (e.g. kwargs['when']),
    and so does one the hub would refuse because not every subscriber can receive it (bridge/payload.py:
    an integer outside MessagePack's range, nesting past the hub's default depth)."""
    try:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        raise TypeError(f"{what}: {_json_problem(payload)}") from None
    try:
        check_value(payload, protocol.MAX_DEPTH, what)
    except PayloadError as e:
        raise TypeError(str(e)) from None
    return body


def _json_problem(value: Any, path: str = "", seen: frozenset = frozenset()) -> str:
    """Describe the first part of `value` that json.dumps refuses."""
    where = path or "the value"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where} is {value!r}, which is not valid JSON"
    if value is None or isinstance(value, (str, int, float)):
        return ""
    if id(value) in seen:
        return f"{where} contains itself (a circular reference)"
    seen = seen | {id(value)}
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                return f"{where} has a key {key!r} of type {type(key).__name__}; JSON keys are strings"
            problem = _json_problem(item, f"{path}[{key!r}]" if path else str(key), seen)
            if problem:
                return problem
        return ""
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            problem = _json_problem(item, f"{path}[{i}]", seen)
            if problem:
                return problem
        return ""
    kind = type(value)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return f"{where} is a {name}, which is not JSON-serialisable (convert it, e.g. to str or a dict)"


def _check_size(body: bytes, what: str) -> None:
    if len(body) > MAX_BODY:
        raise BadRequest(
            f"{what}: the request would be {len(body):,} bytes; the hub accepts at most {MAX_BODY:,} (1 MiB)"
        )


def _batch_body(encoded_events: list[bytes]) -> bytes:
    return b'{"events":[' + b",".join(encoded_events) + b"]}"


def _chunks(encoded: list[bytes]) -> Iterable[tuple[int, list[bytes]]]:
    """(offset, events) batches of at most MAX_BATCH events and MAX_BODY bytes, in order."""
    start, size, chunk = 0, len(_batch_body([])), []
    for i, event in enumerate(encoded):
        if chunk and (len(chunk) == MAX_BATCH or size + 1 + len(event) > MAX_BODY):
            yield start, chunk
            start, size, chunk = i, len(_batch_body([])), []
        size += len(event) + (1 if chunk else 0)
        chunk.append(event)
    if chunk:
        yield start, chunk


def _refused_at(body: Any, sent: int) -> tuple[int | None, list[PublishResult]]:
    """From a failed batch's body: the index of the refused event and the results of those published before it."""
    fields = body if isinstance(body, dict) else {}
    index = fields.get("index")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < sent:
        return None, []
    published = fields.get("results")
    if not isinstance(published, list) or len(published) != index:
        return index, []  # e.g. 400: the batch was only validated, nothing published
    try:
        return index, [_publish_result(item) for item in published]
    except SwitchboardError:
        return index, []


def _publish_result(data: Any) -> PublishResult:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise SwitchboardError(f"the hub answered a publish with {data!r:.200}", status=200)
    return PublishResult(id=data["id"], duplicate=bool(data.get("duplicate", False)))


__all__ = ["HubClient", "PublishResult", "CallResult"]

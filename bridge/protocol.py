"""The HTTP bridge's request and response shapes: pure validation and error mapping, no I/O.

The router's bridge resource parses bodies with these functions and maps WAMP errors to HTTP
statuses with `status_for_error`; clients can validate before sending. See docs/http-bridge.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from switchboard.bridge.limits import LIMITS
from switchboard.bridge.payload import PayloadError, check_json_nesting, check_value
from switchboard.bridge.uris import (  # noqa: F401  (the bridge's URIs, as P.<name> on the router side)
    BAD_REQUEST,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    REFUSAL_STATUS,
    TIMEOUT,
    TOO_LARGE,
    UNAUTHORIZED,
    UNAVAILABLE,
    UNSUPPORTED_MEDIA_TYPE,
    status_for_error,
)

#: Largest request body a hub accepts by default, in bytes (SWITCHBOARD_MAX_MESSAGE_SIZE; the
#: WebSocket/RawSocket message limit too): what clients split their batches by.
MAX_BODY = LIMITS["max_message_size"].default
#: Deepest nesting of a body by default (SWITCHBOARD_MAX_DEPTH).
MAX_DEPTH = LIMITS["max_depth"].default
#: The only body type the bridge reads.
CONTENT_TYPE = "application/json"
#: Most events one batch request may carry.
MAX_BATCH = 1000
#: Seconds a bridged call may take when the request does not say, and at most.
DEFAULT_CALL_TIMEOUT = 10.0
MAX_CALL_TIMEOUT = 300.0
MAX_EVENT_ID_LENGTH = 128
#: kwargs names Autobahn's publish()/call() reserve for themselves.
RESERVED_KWARGS = frozenset({"options"})
PUBLISH_OPTIONS = {"retain": bool, "exclude_authid": list, "eligible_authid": list}

# WAMP URIs, loose rules (WAMP spec, section "URIs"): dot-separated components, none empty, no
# white space or '#'. `wamp.` is reserved for the router.
URI_PATTERN = re.compile(r"[^\s.#]+(\.[^\s.#]+)*")


class BadRequest(ValueError):
    """Answer with this message, the error `uri` and its status (uris.REFUSAL_STATUS: 400 unless the
    URI has its own)."""

    def __init__(self, message: str, uri: str = BAD_REQUEST, index: int | None = None):
        super().__init__(message)
        self.status, self.uri, self.index = REFUSAL_STATUS[uri], uri, index


@dataclass(frozen=True)
class PublishRequest:
    topic: str
    args: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)
    id: str | None = None
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CallRequest:
    procedure: str
    args: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)
    timeout: float = DEFAULT_CALL_TIMEOUT


def check_uri(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{what} must be a non-empty string")
    if not URI_PATTERN.fullmatch(value):
        raise BadRequest(f"{what} {value[:200]!r} is not a valid WAMP URI")
    if value.startswith("wamp."):
        raise BadRequest(f"{what} {value[:200]!r} is reserved for the router (wamp.*)")
    return value


def check_content_type(value: str | None) -> None:
    """Bodies are JSON: anything else is refused (415) before it is read as JSON."""
    media_type = (value or "").split(";", 1)[0].strip().lower()
    if media_type != CONTENT_TYPE:
        raise BadRequest(
            f"Content-Type must be {CONTENT_TYPE}, not {(value or 'missing')[:100]!r}", UNSUPPORTED_MEDIA_TYPE
        )


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON (browsers cannot parse it)")


def parse_json(body: bytes, max_body: int = MAX_BODY, max_depth: int = MAX_DEPTH) -> dict:
    """The body as a JSON object, refused (4xx) if over `max_body` bytes, nested deeper than
    `max_depth`, or holding what not every subscriber's serializer can carry (bridge/payload.py)."""
    if len(body) > max_body:
        raise BadRequest(f"body is {len(body)} bytes; the limit is {max_body}", TOO_LARGE)
    try:
        check_json_nesting(body, max_depth)
        data = json.loads(body, parse_constant=_no_constant)
        check_value(data, max_depth, "body")
    except PayloadError as e:
        raise BadRequest(str(e), uri=e.uri) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def _args_kwargs(data: dict, where: str) -> tuple[list, dict]:
    args, kwargs = data.get("args", []), data.get("kwargs", {})
    if args is None:
        args = []
    if kwargs is None:
        kwargs = {}
    if not isinstance(args, list):
        raise BadRequest(f"{where}args must be a list")
    if not isinstance(kwargs, dict):
        raise BadRequest(f"{where}kwargs must be an object")
    reserved = RESERVED_KWARGS.intersection(kwargs)
    if reserved:
        raise BadRequest(f"{where}kwargs may not use the reserved name(s) {', '.join(sorted(reserved))}")
    return args, kwargs


def parse_publish(data: dict, where: str = "") -> PublishRequest:
    if not isinstance(data, dict):
        raise BadRequest(f"{where}event must be an object")
    topic = check_uri(data.get("topic"), f"{where}topic")
    args, kwargs = _args_kwargs(data, where)
    event_id = data.get("id")
    if event_id is not None and (not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_EVENT_ID_LENGTH):
        raise BadRequest(f"{where}id must be a string of 1-{MAX_EVENT_ID_LENGTH} characters")
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise BadRequest(f"{where}options must be an object")
    for name, value in options.items():
        expected = PUBLISH_OPTIONS.get(name)
        if expected is None:
            raise BadRequest(f"{where}options.{name} is not supported (use {', '.join(PUBLISH_OPTIONS)})")
        if not isinstance(value, expected):
            raise BadRequest(f"{where}options.{name} must be a {expected.__name__}")
        if expected is list and not all(isinstance(v, str) for v in value):
            raise BadRequest(f"{where}options.{name} must be a list of authid strings")
    return PublishRequest(topic, args, kwargs, event_id, options)


def parse_batch(data: dict) -> list[PublishRequest]:
    events = data.get("events")
    if not isinstance(events, list) or not events:
        raise BadRequest("events must be a non-empty list")
    if len(events) > MAX_BATCH:
        raise BadRequest(f"{len(events)} events; a batch holds at most {MAX_BATCH}", TOO_LARGE)
    parsed = []
    for i, event in enumerate(events):
        try:
            parsed.append(parse_publish(event, f"events[{i}]."))
        except BadRequest as e:
            raise BadRequest(str(e), e.uri, index=i) from None
    return parsed


def parse_call(data: dict) -> CallRequest:
    procedure = check_uri(data.get("procedure"), "procedure")
    args, kwargs = _args_kwargs(data, "")
    timeout = data.get("timeout", DEFAULT_CALL_TIMEOUT)
    if timeout is None:
        timeout = DEFAULT_CALL_TIMEOUT
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_CALL_TIMEOUT:
        raise BadRequest(f"timeout must be a number of seconds in (0, {MAX_CALL_TIMEOUT:.0f}]")
    return CallRequest(procedure, args, kwargs, float(timeout))


def error_body(uri: str, args: list | tuple = (), kwargs: dict | None = None, **extra: Any) -> dict:
    return {"error": uri, "args": list(args), "kwargs": dict(kwargs or {}), **extra}

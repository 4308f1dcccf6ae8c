"""What the HTTP bridge's answers mean to Python code: typed errors and a pure status mapping.

`interpret(status, body)` turns one HTTP answer into its JSON value or the typed error, with no I/O,
so the mapping of every status in docs/http-bridge.md is tested without a network.

    SwitchboardError            anything the bridge refused (or an answer it should not give)
    ├── BadRequest              400, 413, 415: the request itself is wrong; retrying will not help
    ├── NotAuthorized           401 (signature refused), 403 (WAMP not authorized)
    ├── NoSuchProcedure         404 wamp.error.no_such_procedure: nobody registered it
    ├── ApplicationError        422, 500, 502: a WAMP error, with its uri, args and kwargs
    ├── CallTimeout             504: no result within the call's timeout (the call was cancelled)
    └── HubUnavailable          503, the hub could not be reached, or a proxy's 502/504 (no bridge body)
"""

from __future__ import annotations

import json
from typing import Any

from switchboard.bridge.uris import NO_SUCH_PROCEDURE


class SwitchboardError(Exception):
    """The bridge did not do what was asked.

    `status` is the HTTP status (None when no answer came), `uri` the error URI of the body,
    `error_args`/`error_kwargs` the WAMP error's payload, `body` the whole decoded body (or None).
    From `HubClient.publish_many`: `index` of the refused event (None when unknown) and `results`,
    the PublishResults of the events published before the failure.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        uri: str | None = None,
        args: tuple | list = (),
        kwargs: dict | None = None,
        body: Any = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.uri = uri
        self.error_args = list(args or ())
        self.error_kwargs = dict(kwargs or {})
        self.body = body
        self.index: int | None = None
        self.results: list | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r}, uri={self.uri!r})"


class BadRequest(SwitchboardError):
    """The request is malformed or too large; sending it again gives the same answer."""


class NotAuthorized(SwitchboardError):
    """401: the signature was refused (`reason` says why, e.g. bad_signature); 403: the WAMP role may not."""

    @property
    def reason(self) -> str | None:
        return self.body.get("reason") if isinstance(self.body, dict) else None


class NoSuchProcedure(SwitchboardError):
    """No callee has registered the procedure (yet): a deploy-order or naming problem."""


class ApplicationError(SwitchboardError):
    """The callee (or the router) answered with a WAMP error; `uri`, `error_args`, `error_kwargs` carry it."""


class CallTimeout(SwitchboardError):
    """The call gave no result within its timeout; the hub cancelled it at the callee."""


class HubUnavailable(SwitchboardError):
    """The hub could not take the request: unreachable, or its bridge session is not joined (503).

    `maybe_processed` is True when a request went out and no answer came back (connection reset,
    read timeout): the hub may have acted on it, so a call is not sent again.
    """

    def __init__(self, message: str, *, maybe_processed: bool = False, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.maybe_processed = maybe_processed


#: The error class of each status the spec names (404 depends on the URI, see interpret()).
_BY_STATUS: dict[int, type[SwitchboardError]] = {
    400: BadRequest,
    413: BadRequest,
    415: BadRequest,
    401: NotAuthorized,
    403: NotAuthorized,
    422: ApplicationError,
    500: ApplicationError,
    502: ApplicationError,
    503: HubUnavailable,
    504: CallTimeout,
}


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        return None


def error_for(status: int, body: bytes) -> SwitchboardError:
    """The typed error for a non-200 answer; tolerant of bodies that are not the bridge's JSON (proxies)."""
    data = _decode(body)
    fields = data if isinstance(data, dict) else {}
    uri = fields.get("error") if isinstance(fields.get("error"), str) else None
    args = fields.get("args") if isinstance(fields.get("args"), list) else []
    kwargs = fields.get("kwargs") if isinstance(fields.get("kwargs"), dict) else {}

    if status == 404:
        cls = NoSuchProcedure if uri == NO_SUCH_PROCEDURE else SwitchboardError
    elif status in (502, 504) and uri is None:
        # Not the bridge's JSON: a proxy in front of the hub could not reach it, or gave up waiting.
        detail = body[:200].decode("utf-8", "replace").strip() or "no body"
        return HubUnavailable(
            f"the hub or a proxy in front of it answered {status}: {detail}",
            status=status,
            maybe_processed=True,
            body=data,
        )
    else:
        cls = _BY_STATUS.get(status, SwitchboardError)

    detail = fields.get("message")
    if not isinstance(detail, str) or not detail:
        detail = args[0] if args and isinstance(args[0], str) else None
    if detail is None and data is None and body:
        detail = body[:200].decode("utf-8", "replace").strip() or None
    if status == 404 and cls is SwitchboardError:
        detail = detail or "no such bridge endpoint: is the client's url the hub's /bridge/ path?"
    if status == 401 and isinstance(fields.get("reason"), str):
        detail = f"({fields['reason']}) {detail or 'signature refused'}"

    message = " ".join(part for part in (uri and f"{uri}:", detail) if part) or "no details"
    return cls(f"{message} [HTTP {status}]", status=status, uri=uri, args=args, kwargs=kwargs, body=data)


def interpret(status: int, body: bytes) -> Any:
    """The decoded JSON of a 200 answer; raise the typed error for anything else."""
    if status == 200:
        if not body:
            raise SwitchboardError("the hub answered 200 with an empty body", status=status)
        data = _decode(body)
        if data is None:
            raise SwitchboardError(f"the hub answered 200 with a body that is not JSON: {body[:100]!r}", status=status)
        return data
    raise error_for(status, body)

"""Every error URI Switchboard answers with, and the HTTP status each stands for: one table, used by
the router (components, services, the HTTP bridge), the HTTP client and the Django views alike.

No I/O; documented in README "URIs" and docs/http-bridge.md "Status codes".
"""

from __future__ import annotations

# --- requests the HTTP bridge (or Django's endpoints for the hub) refuses --------------------------
BAD_REQUEST = "switchboard.error.bad_request"
UNAUTHORIZED = "switchboard.error.unauthorized"
NOT_FOUND = "switchboard.error.not_found"
METHOD_NOT_ALLOWED = "switchboard.error.method_not_allowed"
TOO_LARGE = "switchboard.error.too_large"
UNSUPPORTED_MEDIA_TYPE = "switchboard.error.unsupported_media_type"
INTERNAL = "switchboard.error.internal"
UNAVAILABLE = "switchboard.error.unavailable"
TIMEOUT = "switchboard.error.timeout"
#: the signed-in user's pk is not one URI component (tickets.SUB_PATTERN): no ticket can name it
INVALID_AUTHID = "switchboard.error.invalid_authid"
#: Django answered the hub's call of a django.<name> procedure with an HTTP error
DJANGO_ERROR = "switchboard.error.django_error"

# --- what any client sends: payloads and limits (bridge/payload.py, bridge/limits.py) ------------
#: a value one of the serializers cannot carry (big integers, NaN, CBOR tags, non-string keys)
INVALID_PAYLOAD = "switchboard.error.invalid_payload"
#: nested deeper than SWITCHBOARD_MAX_DEPTH
TOO_DEEP = "switchboard.error.too_deep"
#: a call or publish over the session's rate
RATE_LIMITED = "switchboard.error.rate_limited"
#: a count limit (subscriptions per session)
LIMIT_EXCEEDED = "switchboard.error.limit_exceeded"

# --- browser sign-in (bridge/tickets.py): abort reasons ------------------------------------------
TICKET_INVALID = "switchboard.error.ticket_invalid"
TICKET_EXPIRED = "switchboard.error.ticket_expired"
TICKET_REPLAYED = "switchboard.error.ticket_replayed"

# --- procedures of the components and router services ---------------------------------------------
INVALID_ARGUMENT = "switchboard.error.invalid_argument"
INVALID_ROOM = "switchboard.error.invalid_room"
INVALID_NICK = "switchboard.error.invalid_nick"
INVALID_TEXT = "switchboard.error.invalid_text"
TEXT_TOO_LONG = "switchboard.error.text_too_long"
NOT_ALLOWED = "switchboard.error.not_allowed"
NO_HISTORY = "switchboard.error.no_history"

# --- WAMP's own, as Switchboard passes them on ----------------------------------------------------
WAMP_INVALID_URI = "wamp.error.invalid_uri"
WAMP_INVALID_ARGUMENT = "wamp.error.invalid_argument"
WAMP_NOT_AUTHORIZED = "wamp.error.not_authorized"
WAMP_AUTHORIZATION_FAILED = "wamp.error.authorization_failed"
NO_SUCH_PROCEDURE = "wamp.error.no_such_procedure"
NO_SUCH_REGISTRATION = "wamp.error.no_such_registration"
RUNTIME_ERROR = "wamp.error.runtime_error"
CANCELED = "wamp.error.canceled"
WAMP_TIMEOUT = "wamp.error.timeout"

#: The HTTP status of the bridge's own refusals (bridge/protocol.py raises them with it)
REFUSAL_STATUS = {
    BAD_REQUEST: 400,
    INVALID_PAYLOAD: 400,
    TOO_DEEP: 400,
    UNAUTHORIZED: 401,
    NOT_FOUND: 404,
    METHOD_NOT_ALLOWED: 405,
    TOO_LARGE: 413,
    UNSUPPORTED_MEDIA_TYPE: 415,
    INTERNAL: 500,
    UNAVAILABLE: 503,
}

#: The HTTP status the bridge answers a publish or call with when WAMP answered it with this error
#: (docs/http-bridge.md, "Status codes"); any other WAMP error is 502, any other error 422.
CALL_ERROR_STATUS = {
    WAMP_INVALID_URI: 400,
    WAMP_INVALID_ARGUMENT: 400,
    WAMP_NOT_AUTHORIZED: 403,
    WAMP_AUTHORIZATION_FAILED: 403,
    NO_SUCH_PROCEDURE: 404,
    NO_SUCH_REGISTRATION: 404,
    RUNTIME_ERROR: 500,
    CANCELED: 504,
    WAMP_TIMEOUT: 504,
    TIMEOUT: 504,
    UNAVAILABLE: 503,
}


def status_for_error(uri: str) -> int:
    """The HTTP status a WAMP error answering a publish or call maps to: its own, else 502 for a WAMP
    error (the router's trouble), else 422 (the callee refused the request)."""
    if uri in CALL_ERROR_STATUS:
        return CALL_ERROR_STATUS[uri]
    return 502 if uri.startswith("wamp.") else 422

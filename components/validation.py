"""Input validation for component procedures: pure functions, no I/O.

Each check returns the cleaned value or raises ApplicationError with a specific
switchboard.error.* URI, so a bad call is answered precisely and nothing is published.
"""

from __future__ import annotations

import math
import re
import unicodedata

from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import uris

#: Room names become the last URI component of chat.room.<room> / presence.room.<room>.
ROOM_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
MAX_NICK_LENGTH = 32
#: A browser's client id (shared by its tabs, kept in localStorage): optional, opaque.
CLIENT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
#: Longest chat message, in characters (after stripping surrounding white space).
MAX_TEXT_LENGTH = 2000


def _has_control_chars(value: str, allowed: str = "") -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value)


def number(value, name: str) -> int | float:
    """An int or float (bool is not a number here), finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ApplicationError(uris.INVALID_ARGUMENT, f"{name} must be a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ApplicationError(uris.INVALID_ARGUMENT, f"{name} must be a finite number")
    return value


def room(value) -> str:
    if not isinstance(value, str) or not ROOM_PATTERN.fullmatch(value):
        raise ApplicationError(
            uris.INVALID_ROOM,
            "room must be 1-32 characters of a-z, 0-9, '_' or '-', starting with a letter or digit",
        )
    return value


def nick(value) -> str:
    if not isinstance(value, str):
        raise ApplicationError(uris.INVALID_NICK, "nick must be a string")
    value = value.strip()
    if not value or len(value) > MAX_NICK_LENGTH or _has_control_chars(value):
        raise ApplicationError(uris.INVALID_NICK, f"nick must be 1-{MAX_NICK_LENGTH} printable characters")
    return value


def text(value) -> str:
    if not isinstance(value, str):
        raise ApplicationError(uris.INVALID_TEXT, "text must be a string")
    value = value.strip()
    if not value:
        raise ApplicationError(uris.INVALID_TEXT, "text must not be empty")
    if _has_control_chars(value, allowed="\n\t"):
        raise ApplicationError(uris.INVALID_TEXT, "text must not contain control characters")
    if len(value) > MAX_TEXT_LENGTH:
        raise ApplicationError(uris.TEXT_TOO_LONG, f"text is {len(value)} characters; the limit is {MAX_TEXT_LENGTH}")
    return value


def client_id(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not CLIENT_ID_PATTERN.fullmatch(value):
        raise ApplicationError(uris.INVALID_ARGUMENT, "client must be 8-64 characters of A-Z a-z 0-9 _ -")
    return value

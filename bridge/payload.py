"""What a message may carry so that every subscriber gets it, whatever its serializer: pure checks.

The hub speaks JSON, MessagePack and CBOR side by side, and an event published in one is delivered
in all three. Each can carry values the others cannot: JSON an integer of any size (MessagePack
stops at 2**64 - 1 and -2**63), Python's JSON `NaN`, `Infinity` and `1e400` (which browsers'
`JSON.parse` rejects), CBOR tagged values (datetimes, decimals, sets) and non-string map keys. Such
a value once reached JSON subscribers and silently not MessagePack ones; here it is refused where
it enters, with one error URI. Nesting is bounded too: Autobahn decodes JSON with a recursive
pure-Python scanner, so depth is checked on the text before it is decoded (`check_json_nesting`),
and on the decoded value for every serializer (`check_value`).

Used by the router's ingress (router/patches/ingress.py) and the HTTP bridge (bridge/protocol.py).
"""

from __future__ import annotations

import math
import re

from switchboard.bridge.uris import INVALID_PAYLOAD as NOT_PORTABLE
from switchboard.bridge.uris import TOO_DEEP

#: MessagePack's integer range: what every serializer carries
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1

_SCALARS = frozenset({str, bytes, bool, type(None)})
_CONTAINERS = frozenset({list, tuple, dict})
_OPENERS = (ord("["), ord("{"))


class PayloadError(ValueError):
    """A value the hub refuses: `uri` is NOT_PORTABLE or TOO_DEEP, the message says what and where."""

    def __init__(self, uri: str, message: str):
        super().__init__(message)
        self.uri = uri


#: what can change nesting depth in JSON text: brackets, and strings (whose brackets do not count)
_JSON_TOKENS = re.compile(rb'[\[\]{}]|"(?:[^"\\]++|\\.)*+"', re.DOTALL)


def check_json_nesting(text: bytes, max_depth: int) -> None:
    """Refuse JSON `text` nested deeper than `max_depth`, before any decoder recurses into it.

    Text with at most `max_depth` opening brackets cannot be deeper, so the common message costs two
    `bytes.count` calls; only text with more brackets is scanned token by token.
    """
    if text.count(b"[") + text.count(b"{") <= max_depth:
        return
    depth = 0
    for token in _JSON_TOKENS.finditer(text):
        first = token.group()[0]
        if first in _OPENERS:
            depth += 1
            if depth > max_depth:
                raise PayloadError(TOO_DEEP, f"nested deeper than {max_depth} levels")
        elif first != 0x22:  # a closing bracket (strings are skipped whole)
            depth -= 1


def check_value(value, max_depth: int, where: str = "value") -> None:
    """Refuse `value` (a decoded message part) if it nests deeper than `max_depth` counting itself
    as level 1, or holds anything but None, bools, integers in MessagePack's range, finite floats,
    strings, bytes, lists and string-keyed maps."""
    if type(value) not in _CONTAINERS:
        _check_scalar(value, where)
        return
    stack = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        if depth > max_depth:
            raise PayloadError(TOO_DEEP, f"{where} is nested deeper than {max_depth} levels")
        if type(item) is dict:
            for key in item:
                if type(key) is not str:
                    raise PayloadError(
                        NOT_PORTABLE, f"{where} has a map key of type {type(key).__name__}; keys must be strings"
                    )
            item = item.values()
        for child in item:
            kind = type(child)
            if kind in _SCALARS:
                continue
            if kind in _CONTAINERS:
                push((child, depth + 1))
            else:
                _check_scalar(child, where)


def _check_scalar(item, where: str) -> None:
    kind = type(item)
    if kind in _SCALARS:
        return
    if kind is int:
        if not INT_MIN <= item <= INT_MAX:
            raise PayloadError(
                NOT_PORTABLE,
                f"{where} holds an integer outside [-2**63, 2**64 - 1], which MessagePack subscribers cannot receive",
            )
        return
    if kind is float:
        if not math.isfinite(item):
            raise PayloadError(NOT_PORTABLE, f"{where} holds {item!r}, which JSON cannot carry")
        return
    raise PayloadError(
        NOT_PORTABLE, f"{where} holds a value of type {kind.__name__}, which not every serializer can carry"
    )

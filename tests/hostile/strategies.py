"""Hypothesis strategies for hostile input: WAMP messages (well-formed and not), their encodings in
JSON, MessagePack and CBOR (with byte-level damage), WebSocket and RawSocket framing, and HTTP
bridge requests.

Values are plain Python; `encode()` turns a message into the bytes of one serializer, carrying what
that serializer cannot (bytes in JSON, integers past 64 bits in MessagePack) the way a hostile
client would: as the nearest thing it can send.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import reprlib
import struct
from dataclasses import dataclass, field

import cbor2
import msgpack
from hypothesis import strategies as st
from switchboard.bridge import limits
from switchboard.router import settings as S

from tests.wsraw import _mask_fast

REALM = S.realm_name(S.load_config(S.CONFIG_FILE))
MAX_DEPTH = int(limits.LIMITS["max_depth"].default)
MAX_MESSAGE = int(limits.LIMITS["max_message_size"].default)
SERIALIZERS = ("json", "msgpack", "cbor")

#: WAMP message codes (client- and router-sent)
HELLO, WELCOME, ABORT, CHALLENGE, AUTHENTICATE, GOODBYE, ERROR = 1, 2, 3, 4, 5, 6, 8
PUBLISH, PUBLISHED, SUBSCRIBE, SUBSCRIBED, UNSUBSCRIBE, UNSUBSCRIBED, EVENT = 16, 17, 32, 33, 34, 35, 36
CALL, CANCEL, RESULT, REGISTER, REGISTERED, UNREGISTER, UNREGISTERED = 48, 49, 50, 64, 65, 66, 67
INVOCATION, INTERRUPT, YIELD = 68, 69, 70
KNOWN_CODES = frozenset(
    {
        HELLO,
        WELCOME,
        ABORT,
        CHALLENGE,
        AUTHENTICATE,
        GOODBYE,
        ERROR,
        PUBLISH,
        PUBLISHED,
        SUBSCRIBE,
        SUBSCRIBED,
        UNSUBSCRIBE,
        UNSUBSCRIBED,
        EVENT,
        CALL,
        CANCEL,
        RESULT,
        REGISTER,
        REGISTERED,
        UNREGISTER,
        UNREGISTERED,
        INVOCATION,
        INTERRUPT,
        YIELD,
    }
)

# Procedures and topics the hub has, and URIs no router should accept. Nothing here kills or
# changes other sessions (no wamp.session.kill*): the sentinel must only fail if the hub does.
KNOWN_URIS = [
    "demo.add2",
    "chat.rooms",
    "chat.post",
    "presence.list",
    "presence.join",
    "presence.leave",
    "history.get",
    "clock.tick",
    "public.fuzz",
    "chat.room.lobby",
    "presence.room.lobby",
    "user.1.inbox",
    "django.events.fuzz",
    "django.fuzz",
    "wamp.session.count",
    "wamp.session.get",
    "wamp.subscription.list",
    "wamp.registration.lookup",
    "switchboard.auth.ticket",
    "fuzz.nowhere",
]
ODD_URIS = [
    "",
    ".",
    "..",
    "a..b",
    ".a",
    "a.",
    "a b",
    "a#b",
    "A.B",
    "\x00",
    "\ud800",
    "é.ü",
    "wamp.",
    "demo.add2.",
    "*",
    "chat.room.",
    "user..x",
    "demo.add2\x00",
    "\u202e.x",
    "wamp.error",
]
#: long URIs, drawn as (piece, count) so that hypothesis' reports stay short
LONG_URIS = st.builds(lambda piece, n: piece * n + "a", st.sampled_from(["a", "a."]), st.sampled_from([2000, 40000]))
CLOSE_REASONS = [
    "wamp.close.normal",
    "wamp.close.system_shutdown",
    "wamp.close.close_realm",
    "wamp.close.goodbye_and_out",
    "wamp.error.goodbye_and_out",
    "wamp.error.not_authorized",
]
OPTION_KEYS = [
    "acknowledge",
    "exclude_me",
    "exclude",
    "exclude_authid",
    "exclude_authrole",
    "eligible",
    "eligible_authid",
    "eligible_authrole",
    "retain",
    "disclose_me",
    "match",
    "get_retained",
    "receive_progress",
    "timeout",
    "invoke",
    "concurrency",
    "force_reregister",
    "mode",
    "progress",
    "forward_for",
    "rkey",
    "x_acknowledged_delivery",
    "enc_algo",
    "ppt_scheme",
    "ppt_serializer",
    "ppt_cipher",
    "ppt_keyid",
    "caller",
    "caller_authid",
    "procedure",
    "topic",
    "publisher",
]
OPTION_WORDS = [
    "exact",
    "prefix",
    "wildcard",
    "bogus",
    "single",
    "roundrobin",
    "random",
    "first",
    "last",
    "kill",
    "killnowait",
    "skip",
    "mqtt",
    "cbor",
    "xbr",
    "",
]
AUTHMETHODS = ["anonymous", "ticket", "wampcra", "cryptosign", "scram", "tls", "cookie", "bogus", ""]
ROLES = ["caller", "callee", "publisher", "subscriber", "broker", "dealer", "bogus"]

EXTREME_INTS = [
    0,
    1,
    -1,
    2**31,
    2**32,
    2**53 - 1,
    2**53,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64 - 1,
    2**64,
    -(2**63),
    -(2**63) - 1,
    2**100,
    -(2**100),
]
#: integers of thousands of digits (CPython refuses to parse more than 4300 from text)
HUGE_INTS = st.builds(lambda digits: 10**digits - 1, st.sampled_from([400, 4300, 4301, 10000]))
BAD_TEXT = ["\ud800", "\udfff", "a\x00b", "\ufeff", "\U0010ffff", "\u0085\u2028\u2029", "\x1b[31m", "Traceback"]


# --- values -----------------------------------------------------------------------------------
def _special(serializer: str):
    """Values only one serializer can carry (MessagePack extension types, CBOR tags and its kin)."""
    if serializer == "msgpack":
        return st.one_of(
            st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=12)),
            st.builds(msgpack.Timestamp, st.integers(0, 2**34 - 1), st.integers(0, 999_999_999)),
        )
    if serializer == "cbor":
        return st.one_of(
            st.builds(
                cbor2.CBORTag,
                st.sampled_from(
                    [0, 1, 2, 3, 4, 5, 24, 25, 28, 29, 30, 32, 35, 36, 256, 258, 260, 261, 55799, 2**32, 2**64 - 1]
                ),
                st.one_of(
                    st.integers(-5, 5),
                    st.text(max_size=8),
                    st.binary(max_size=8),
                    st.lists(st.integers(-3, 3), max_size=3),
                ),
            ),
            st.just(cbor2.undefined),
            st.builds(cbor2.CBORSimpleValue, st.sampled_from([0, 19, 32, 100, 255])),
            st.datetimes(timezones=st.just(datetime.timezone.utc)),
            st.decimals(allow_nan=True, places=None).filter(lambda d: not d.is_snan()),
            st.frozensets(st.integers(-3, 3), max_size=3),
        )
    return st.nothing()


def leaves(serializer: str):
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**40), 2**40),
        st.sampled_from(EXTREME_INTS),
        HUGE_INTS,
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([float("nan"), float("inf"), -0.0, 1e308]),
        st.text(max_size=20),
        st.sampled_from(BAD_TEXT),
        st.text(st.characters(codec=None), max_size=8),
        st.binary(max_size=20),
        _special(serializer),
    )


def _keys(serializer: str):
    text = st.one_of(st.text(max_size=10), st.sampled_from(["options", "details", "", "__proto__", "\ud800"]))
    if serializer == "json":
        return text
    # MessagePack and CBOR maps may have keys of other types
    return st.one_of(text, st.integers(-3, 2**64), st.binary(max_size=4), st.booleans(), st.none())


def deep(depth: int, leaf=1, kind: str = "list"):
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


def values(serializer: str):
    """Nested values: small and odd, deep (around the depth limit), wide, big."""
    nested = st.recursive(
        leaves(serializer),
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(_keys(serializer), children, max_size=4)
        ),
        max_leaves=16,
    )
    depths = st.one_of(
        st.integers(1, MAX_DEPTH + 4),
        st.sampled_from([MAX_DEPTH - 3, MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 200, 500]),
    )
    return st.one_of(
        nested,
        st.builds(deep, depths, st.just(1), st.sampled_from(["list", "dict"])),
        st.builds(lambda n, v: [v] * n, st.sampled_from([100, 1000, 20000, 100000]), st.sampled_from([0, None, "x"])),
        st.builds(lambda n: {str(i): i for i in range(n)}, st.sampled_from([100, 5000, 30000])),
        st.builds(lambda n: "x" * n, st.sampled_from([10000, MAX_MESSAGE - 200, MAX_MESSAGE + 10])),
    )


# --- WAMP messages ----------------------------------------------------------------------------
def wrong(serializer: str):
    """A value of the wrong type for whatever field it replaces."""
    return st.one_of(
        leaves(serializer),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )


def ids(serializer: str):
    return st.one_of(st.integers(1, 2**53), st.sampled_from(EXTREME_INTS), st.integers(), wrong(serializer))


def uris(serializer: str):
    return st.one_of(
        st.sampled_from(KNOWN_URIS), st.sampled_from(ODD_URIS), LONG_URIS, st.text(max_size=30), wrong(serializer)
    )


def options(serializer: str):
    option_values = st.one_of(
        leaves(serializer),
        st.sampled_from(OPTION_WORDS),
        st.lists(st.integers(-2, 2**53), max_size=3),
        st.lists(st.text(max_size=4), max_size=3),
    )
    good = st.dictionaries(st.one_of(st.sampled_from(OPTION_KEYS), st.text(max_size=10)), option_values, max_size=4)
    return st.one_of(st.just({}), good, values(serializer), wrong(serializer))


def _tail(serializer: str):
    """What may follow a message's fixed fields: nothing, args, args and kwargs, or extra junk."""
    args = st.one_of(st.lists(values(serializer), max_size=3), values(serializer))
    kwargs = st.one_of(st.dictionaries(_keys(serializer), values(serializer), max_size=3), values(serializer))
    return st.one_of(
        st.just([]),
        st.tuples(args).map(list),
        st.tuples(args, kwargs).map(list),
        st.lists(leaves(serializer), min_size=3, max_size=4),
    )


def hello_details(serializer: str):
    roles = st.one_of(
        st.just({"caller": {}, "callee": {}, "publisher": {}, "subscriber": {}}),
        st.dictionaries(
            st.sampled_from(ROLES),
            st.one_of(
                st.just({}),
                st.fixed_dictionaries(
                    {"features": st.dictionaries(st.text(max_size=20), leaves(serializer), max_size=3)}
                ),
                wrong(serializer),
            ),
            max_size=5,
        ),
        wrong(serializer),
    )
    authmethods = st.one_of(
        st.lists(st.one_of(st.sampled_from(AUTHMETHODS), wrong(serializer)), max_size=4), wrong(serializer)
    )
    details = st.fixed_dictionaries(
        {"roles": roles},
        optional={
            "authmethods": authmethods,
            "authid": st.one_of(
                st.sampled_from([S.BACKEND_AUTHID, "anonymous", "", "\ud800"]), st.text(max_size=12), wrong(serializer)
            ),
            "authrole": st.one_of(st.sampled_from(["backend", "anonymous", "user", "trusted"]), wrong(serializer)),
            "authextra": st.one_of(values(serializer), wrong(serializer)),
            "agent": st.one_of(st.text(max_size=20), st.builds(lambda n: "x" * n, st.just(100000)), wrong(serializer)),
            "resumable": wrong(serializer),
            "transport": wrong(serializer),
        },
    )
    return st.one_of(details, values(serializer), wrong(serializer))


def hellos(serializer: str):
    realm = st.one_of(
        st.just(REALM), st.sampled_from(["crossbar", ""]), st.builds(lambda n: "x" * n, st.just(5000)), uris(serializer)
    )
    return st.builds(
        lambda r, d, extra: [HELLO, r, d, *extra],
        realm,
        hello_details(serializer),
        st.one_of(st.just([]), st.lists(leaves(serializer), min_size=1, max_size=2)),
    )


def authenticates(serializer: str):
    signature = st.one_of(
        st.text(max_size=64), st.builds(lambda n: "A" * n, st.sampled_from([44, 100000])), wrong(serializer)
    )
    return st.builds(
        lambda s, e: [AUTHENTICATE, s, e],
        signature,
        st.one_of(st.just({}), st.dictionaries(_keys(serializer), values(serializer), max_size=3), wrong(serializer)),
    )


def _msg(code, *fields_and_tail):
    *fields, tail = fields_and_tail
    return st.builds(lambda *parts: [code, *parts[:-1], *parts[-1]], *fields, tail)


def session_messages(serializer: str):
    """What a client sends in a session: each field well typed or not, payloads hostile."""
    i, u, o, t = ids(serializer), uris(serializer), options(serializer), _tail(serializer)
    none = st.just([])
    codes = st.one_of(st.sampled_from(sorted(KNOWN_CODES)), wrong(serializer))
    return st.one_of(
        _msg(PUBLISH, i, o, u, t),
        _msg(SUBSCRIBE, i, o, u, none),
        _msg(UNSUBSCRIBE, i, i, none),
        _msg(CALL, i, o, u, t),
        _msg(CALL, st.integers(1, 2**53), st.just({}), st.just("demo.add2"), _tail(serializer)),
        _msg(CANCEL, i, o, none),
        _msg(REGISTER, i, o, u, none),
        _msg(UNREGISTER, i, i, none),
        _msg(YIELD, i, o, t),
        _msg(ERROR, codes, i, o, u, t),
        _msg(GOODBYE, o, st.one_of(st.sampled_from(CLOSE_REASONS), u), none),
    )


def messages(serializer: str):
    """Any WAMP message a hostile client might send, in any state."""
    i, u, o, t = ids(serializer), uris(serializer), options(serializer), _tail(serializer)
    none = st.just([])
    router_only = st.one_of(  # messages only a router sends
        _msg(WELCOME, i, o, none),
        _msg(CHALLENGE, u, o, none),
        _msg(PUBLISHED, i, i, none),
        _msg(SUBSCRIBED, i, i, none),
        _msg(UNSUBSCRIBED, i, none),
        _msg(EVENT, i, i, o, t),
        _msg(RESULT, i, o, t),
        _msg(REGISTERED, i, i, none),
        _msg(UNREGISTERED, i, none),
        _msg(INVOCATION, i, i, o, t),
        _msg(INTERRUPT, i, o, none),
    )
    unknown = st.builds(
        lambda code, rest: [code, *rest],
        st.one_of(
            st.integers().filter(lambda c: c not in KNOWN_CODES),
            st.sampled_from([0, 7, 9, 99, 255, 256, 2**64]),
            wrong(serializer),
        ),
        st.lists(leaves(serializer), max_size=4),
    )
    return st.one_of(
        hellos(serializer),
        authenticates(serializer),
        session_messages(serializer),
        _msg(ABORT, o, st.one_of(st.sampled_from(CLOSE_REASONS), u), none),
        router_only,
        unknown,
        st.just([]),
        st.lists(leaves(serializer), max_size=5),
        values(serializer),
    )


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict, _REPR.maxlong = 6, 80, 80, 8, 8, 40


def _short(value, limit: int = 160) -> str:
    """A short repr, safe for values nested deeper than this process' recursion limit."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else f"{text[:limit]}...<{len(text)} chars>"


class _ShortRepr:
    """Hypothesis pretty-prints examples field by field; these print as their short repr."""

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


# --- encodings --------------------------------------------------------------------------------
#: CPython converts at most 4300 digits between int and text; a longer one is written as that many 9s
_HUGE, _HUGE_END = '"@@huge:', '@@"'


def _huge(value: int) -> str:
    """A placeholder for an integer too long for str(), replaced by `_unhuge` after encoding."""
    return f"{_HUGE[1:]}{int(value.bit_length() * 0.30103) + 1}{_HUGE_END[:-1]}"


def _unhuge(text: str) -> str:
    while _HUGE in text:
        start = text.index(_HUGE)
        end = text.index(_HUGE_END, start)
        text = text[:start] + "9" * int(text[start + len(_HUGE) : end]) + text[end + len(_HUGE_END) :]
    return text


def _too_long(value) -> bool:
    return type(value) is int and value.bit_length() > 14000  # about 4214 digits


def _jsonable(value):
    """What a JSON client sends for `value`: bytes as Autobahn's "\\0" + base64 strings, other keys as text."""
    kind = type(value)
    if _too_long(value):
        return _huge(value)
    if kind in (list, tuple, frozenset):
        return [_jsonable(v) for v in value]
    if kind is dict:
        return {k if type(k) is str else str(k): _jsonable(v) for k, v in value.items()}
    if kind is bytes:
        return "\x00" + base64.b64encode(value).decode()
    return value


def _msgpackable(value):
    """MessagePack cannot encode integers past 64 bits: a client sends them as text."""
    kind = type(value)
    if kind in (list, tuple):
        return [_msgpackable(v) for v in value]
    if kind is dict:
        return {_msgpackable(k) if type(k) is not str else k: _msgpackable(v) for k, v in value.items()}
    if kind is int and not -(2**63) <= value <= 2**64 - 1:
        return "9" * (int(value.bit_length() * 0.30103) + 1) if _too_long(value) else str(value)
    return value


def encode(serializer: str, message) -> bytes:
    if serializer == "json":
        text = _unhuge(json.dumps(_jsonable(message), allow_nan=True, ensure_ascii=False, separators=(",", ":")))
        return text.encode("utf-8", "surrogatepass")  # a lone surrogate becomes invalid UTF-8, as hostile clients send
    if serializer == "msgpack":
        return msgpack.packb(_msgpackable(message), use_bin_type=True, unicode_errors="surrogatepass")
    return cbor2.dumps(message)


INVALID_UTF8 = [
    b"\xff",
    b"\xfe\xff",
    b"\xc3\x28",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\x80",
    b"\xe2\x82",
]


@dataclass(repr=False)
class Damage(_ShortRepr):
    """Byte-level damage to an encoded message: `kind` at relative `where` (0..1) with `data`."""

    kind: str = "none"
    where: float = 0.0
    data: bytes = b""

    def __repr__(self) -> str:
        return f"Damage({self.kind!r}, {self.where!r}, {_short(self.data)})"

    def apply(self, payload: bytes) -> bytes:
        at = int(len(payload) * self.where)
        if self.kind == "truncate":
            return payload[:at]
        if self.kind == "insert":
            return payload[:at] + self.data + payload[at:]
        if self.kind == "overwrite":
            return payload[:at] + self.data + payload[at + len(self.data) :]
        if self.kind == "append":
            return payload + self.data
        if self.kind == "replace":
            return self.data
        return payload


#: whole payloads no encoder writes: broken JSON, lone MessagePack/CBOR heads, numbers too long to parse
RAW_PAYLOADS = [
    b"",
    b"[",
    b"[1,",
    b"\x91",
    b"\x81",
    b"\xd8\x1d\x00",
    b"\xc1",
    b"[" * 33 + b"]" * 33,
    b"1" * 5000,
    b"[1," + b"9" * 5000 + b"]",
    b"[1e999999]",
    b"[-0.0e-99999]",
    b'["\\ud800"]',
    b"\xef\xbb\xbf[1]",
    b'[1,"x",{"a":1,"a":2}]',
    b"[1] [2]",
    b"\x00" * 16,
    b"[" * 100000,
    b'[48,1,{},"demo.add2",[1,' + b"1" * 4301 + b",2]]",
]


damage = st.one_of(
    st.just(Damage()),
    st.builds(
        Damage,
        st.sampled_from(["truncate", "insert", "overwrite", "append"]),
        st.floats(0, 1),
        st.one_of(st.sampled_from(INVALID_UTF8), st.binary(min_size=1, max_size=6)),
    ),
    st.builds(
        Damage,
        st.just("replace"),
        st.just(0.0),
        st.one_of(st.binary(max_size=64), st.integers(0, len(RAW_PAYLOADS) - 1).map(RAW_PAYLOADS.__getitem__)),
    ),
)


@dataclass(repr=False)
class Wire(_ShortRepr):
    """One message on the wire: `message` encoded by the connection's serializer, then `damage`d."""

    message: object
    damage: Damage = field(default_factory=Damage)

    def __repr__(self) -> str:
        return f"Wire({_short(self.message, 400)}, {self.damage!r})"

    def payload(self, serializer: str) -> bytes:
        try:
            raw = encode(serializer, self.message)
        except (TypeError, ValueError, OverflowError) as e:  # e.g. a CBOR tag MessagePack has no form for
            raw = repr(e).encode()
        return self.damage.apply(raw)


def wires(serializer: str, message_strategy=None):
    message_strategy = message_strategy if message_strategy is not None else messages(serializer)
    return st.builds(Wire, message_strategy, st.one_of(st.just(Damage()), st.just(Damage()), damage))


# --- WebSocket framing ------------------------------------------------------------------------
def ws_frame(
    payload: bytes,
    opcode: int,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    length: int | None = None,
    long_form: bool = False,
) -> bytes:
    """A client frame with every header bit chosen: `length` may lie, `long_form` uses a 64-bit
    length field for any size (a non-minimal encoding)."""
    n = len(payload) if length is None else length
    first = (0x80 if fin else 0) | (rsv & 0x7) << 4 | (opcode & 0x0F)
    mbit = 0x80 if mask else 0
    if long_form or n >= 65536:
        header = struct.pack("!BBQ", first, mbit | 127, n & (2**64 - 1))
    elif n >= 126:
        header = struct.pack("!BBH", first, mbit | 126, n)
    else:
        header = struct.pack("!BB", first, mbit | n)
    if not mask:
        return header + payload
    key = b"\x5a\x17\xc3\x09"
    masked = _mask_fast(payload, key) if payload else b""
    return header + key + masked


@dataclass
class Framing:
    """How a message goes into WebSocket frames: `kind` and its parameters."""

    kind: str = "plain"
    opcode: int = 1
    parts: int = 2
    rsv: int = 0
    close_code: int = 1000
    reason: bytes = b""

    def frames(self, payload: bytes, binary: bool) -> bytes:
        data_opcode = 2 if binary else 1
        if self.kind == "opcode":  # any opcode, reserved ones and continuation-without-start included
            return ws_frame(payload[:125] if self.opcode >= 8 else payload, self.opcode)
        if self.kind == "swapped":  # a text frame where binary is expected and the other way round
            return ws_frame(payload, 1 if binary else 2)
        if self.kind == "rsv":
            return ws_frame(payload, data_opcode, rsv=self.rsv or 1)
        if self.kind == "unmasked":
            return ws_frame(payload, data_opcode, mask=False)
        if self.kind == "long_form":
            return ws_frame(payload, data_opcode, long_form=True)
        if self.kind in ("fragmented", "fragmented_ping", "unfinished"):
            size = max(1, len(payload) // max(1, self.parts))
            pieces = [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]
            out = b""
            for index, piece in enumerate(pieces):
                last = index == len(pieces) - 1 and self.kind != "unfinished"
                out += ws_frame(piece, data_opcode if index == 0 else 0, fin=last)
                if self.kind == "fragmented_ping" and not last:
                    out += ws_frame(b"p", 9)
            return out
        if self.kind == "big_control":  # control frames may carry at most 125 bytes
            return ws_frame(payload + b"x" * 126, 9)
        if self.kind == "unfragmented_control":
            return ws_frame(b"ping", 9, fin=False)
        if self.kind == "close":
            body = b"" if self.close_code < 0 else struct.pack("!H", self.close_code & 0xFFFF) + self.reason
            return ws_frame(body[:125], 8)
        return ws_frame(payload, data_opcode)


framings = st.one_of(
    st.just(Framing()),
    st.builds(Framing, st.just("opcode"), opcode=st.sampled_from([0, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15])),
    st.builds(Framing, st.sampled_from(["swapped", "unmasked", "long_form", "big_control", "unfragmented_control"])),
    st.builds(Framing, st.just("rsv"), rsv=st.integers(1, 7)),
    st.builds(Framing, st.sampled_from(["fragmented", "fragmented_ping", "unfinished"]), parts=st.integers(1, 5)),
    st.builds(
        Framing,
        st.just("close"),
        close_code=st.sampled_from([-1, 0, 999, 1000, 1001, 1004, 1005, 1006, 1015, 2999, 3000, 4999, 5000, 65535]),
        reason=st.one_of(st.binary(max_size=8), st.sampled_from(INVALID_UTF8)),
    ),
)


# --- RawSocket framing ------------------------------------------------------------------------
@dataclass
class RawFrame:
    """A RawSocket frame: `kind` 0 regular, 1 ping, 2 pong, 3..7 reserved; `length` may lie."""

    kind: int = 0
    length: int | None = None

    def frame(self, payload: bytes) -> bytes:
        n = len(payload) if self.length is None else self.length
        return bytes([self.kind & 0xFF]) + (n & 0xFFFFFF).to_bytes(3, "big") + payload


raw_frames = st.one_of(
    st.just(RawFrame()),
    st.just(RawFrame()),
    st.builds(RawFrame, st.sampled_from([1, 2, 3, 7, 8, 0x80, 0xFF])),
    st.builds(RawFrame, st.just(0), st.sampled_from([0, MAX_MESSAGE + 1, 2**24 - 1])),
)

#: RawSocket opening handshakes: magic, max length exponent and serializer, reserved bytes
raw_handshakes = st.one_of(
    st.builds(
        lambda length, ser, r1, r2: bytes([0x7F, (length << 4) | ser, r1, r2]),
        st.integers(0, 15),
        st.integers(0, 15),
        st.sampled_from([0, 0, 1, 0xFF]),
        st.sampled_from([0, 0, 1]),
    ),
    st.binary(min_size=0, max_size=8),
)

_ = decimal  # decimals are drawn through st.decimals (CBOR tag 4)

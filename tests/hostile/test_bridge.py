"""Hostile HTTP to the bridge: methods, paths, content types, bodies (well-formed JSON with hostile
fields, broken JSON, binary), framing (Content-Length, chunked, lying lengths) and signatures (valid,
so the fuzz reaches the parsers; missing, wrong, stale, replayed). Every request gets an HTTP answer
or a closed connection, never a hang and never a 500 (a bug in the bridge); every batch, the hub must
be healthy (health.py).
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from dataclasses import dataclass, field

import pytest
from hypothesis import strategies as st
from switchboard.bridge import signing

from tests.hostile import strategies as H
from tests.hostile.clients import ANSWER_TIMEOUT, GONE, Hang, wait_eof
from tests.hostile.health import fuzz, fuzzed_hub

PATHS = [
    "publish",
    "batch",
    "call",
    "health",
    "",
    "publish/",
    "nope",
    "publish?x=1",
    "publish?x=%ff",
    "../info",
    "%2e%2e/info",
    "publish%00",
    "call/../publish",
    "publish//",
    "\u043f\u0443\u0431".encode().decode("latin-1"),
    "publish#frag",
]
METHODS = ["POST", "POST", "POST", "GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "post", "FOO"]
CONTENT_TYPES = [
    None,
    "application/json",
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "APPLICATION/JSON",
    "application/json;;;",
    "application/jsonx",
    "text/plain",
    "",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "*/*",
    "application/json\x00",
    "application/json; charset=\xe9",
]
SIGNINGS = [
    "valid",
    "valid",
    "valid",
    "valid",
    "unsigned",
    "wrong_secret",
    "wrong_key",
    "stale",
    "future",
    "bad_timestamp",
    "huge_timestamp",
    "utf8_signature",
    "empty_nonce",
    "long_nonce",
    "odd_nonce",
    "replayed",
    "other_body",
    "other_path",
    "upper_hex",
    "truncated",
    "duplicate",
    "missing_signature",
]
FRAMINGS = ["length", "length", "length", "chunked", "bad_chunk", "short", "long", "none"]
RAW_BODIES = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'"x"',
    b"1",
    b"{}",
    b'{"topic": 1}',
    b'{"topic": "public.x", "args": NaN}',
    b'{"topic": "public.x", "args": [1' + b"1" * 4301 + b"]}",
    b'{"topic": "public.x", "args": [1e999]}',
    b'{"topic": "a", "topic": "public.x"}',
    b"\xef\xbb\xbf{}",
    '{"topic": "public.x"}'.encode("utf-16"),
    b'{"topic": "public.\xff"}',
    b'{"topic": "public.x", "args": ["\\ud800"]}',
    b"[" * 100000,
    b'{"events": ' + b"[" * 40 + b"]" * 40 + b"}",
    b'{"procedure": "demo.add2", "args": [1, 2]}\x00',
    b'{"events": [' + b",".join([b'{"topic": "public.x"}'] * 1001) + b"]}",
    b"\x00" * 64,
]


def _json(value) -> bytes:
    return H._unhuge(json.dumps(H._jsonable(value), allow_nan=True, ensure_ascii=False)).encode(
        "utf-8", "surrogatepass"
    )


def bodies():
    v = H.values("json")
    publish_options = st.dictionaries(
        st.one_of(
            st.sampled_from(
                [
                    "retain",
                    "exclude_authid",
                    "eligible_authid",
                    "exclude_me",
                    "acknowledge",
                    "exclude",
                    "eligible",
                    "disclose_me",
                    "match",
                ]
            ),
            st.text(max_size=8),
        ),
        st.one_of(H.leaves("json"), st.lists(st.text(max_size=6), max_size=3)),
        max_size=3,
    )
    event = st.fixed_dictionaries(
        {"topic": H.uris("json")},
        optional={
            "args": st.one_of(st.lists(v, max_size=3), v),
            "kwargs": st.one_of(st.dictionaries(st.text(max_size=8), v, max_size=3), v),
            "id": st.one_of(
                st.text(max_size=12), st.builds(lambda n: "i" * n, st.sampled_from([128, 129])), H.wrong("json")
            ),
            "options": st.one_of(publish_options, H.wrong("json")),
        },
    )
    call = st.fixed_dictionaries(
        {"procedure": H.uris("json")},
        optional={
            "args": st.one_of(st.lists(v, max_size=3), v),
            "kwargs": st.one_of(st.dictionaries(st.text(max_size=8), v, max_size=3), v),
            "timeout": st.one_of(
                st.sampled_from([0, -1, 0.001, 300, 301, 1e308, float("nan"), float("inf"), "5", None, True]),
                st.floats(0.5, 5),
            ),
        },
    )
    batch = st.fixed_dictionaries({"events": st.one_of(st.lists(event, max_size=4), H.wrong("json"))})
    return st.one_of(
        event.map(_json),
        call.map(_json),
        batch.map(_json),
        st.dictionaries(st.text(max_size=10), v, max_size=4).map(_json),
        v.map(_json),
        st.integers(0, len(RAW_BODIES) - 1).map(RAW_BODIES.__getitem__),
        st.binary(max_size=64),
    )


extra_headers = st.lists(
    st.one_of(
        st.sampled_from(
            [
                ("Content-Length", "-1"),
                ("Content-Length", "abc"),
                ("Content-Length", "1, 2"),
                ("Transfer-Encoding", "chunked, gzip"),
                ("Transfer-Encoding", "identity"),
                ("Expect", "100-continue"),
                ("Host", ""),
                ("Content-Encoding", "gzip"),
                ("X-Switchboard-Key", "django"),
                ("X-Switchboard-Timestamp", "0"),
                ("Connection", "keep-alive"),
                ("X-Forwarded-For", "1.2.3.4"),
            ]
        ),
        st.builds(lambda n: ("X-Long", "x" * n), st.sampled_from([100, 20000, 70000])),
        st.tuples(
            st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True),
            st.from_regex(r"[ -~\x80-\xff]{0,40}", fullmatch=True),
        ),
    ),
    max_size=3,
)


@dataclass
class BridgeCase:
    method: str
    path: str
    body: bytes
    content_type: str | None
    signing: str
    framing: str
    headers: list = field(default_factory=list)
    many_headers: int = 0

    def __repr__(self) -> str:
        return (
            f"BridgeCase({self.method!r}, {self.path!r}, {H._short(self.body)}, {self.content_type!r}, "
            f"{self.signing!r}, {self.framing!r}, {H._short(self.headers)}, many_headers={self.many_headers})"
        )

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


bridge_cases = st.builds(
    BridgeCase,
    st.sampled_from(METHODS),
    st.sampled_from(PATHS),
    bodies(),
    st.sampled_from(CONTENT_TYPES),
    st.sampled_from(SIGNINGS),
    st.sampled_from(FRAMINGS),
    extra_headers,
    st.sampled_from([0, 0, 0, 0, 200, 1000]),
)


def signature_headers(hub, case: BridgeCase, target: str) -> list[tuple[str, str]]:
    key, secret, body, now = hub.bridge_key, hub.bridge_secret, case.body, time.time()
    kind = case.signing
    if kind == "unsigned":
        return []
    nonce = "fuzz-replayed-nonce" if kind == "replayed" else None
    if kind == "wrong_secret":
        secret = "not the secret"
    if kind == "wrong_key":
        key = "nobody"
    if kind == "other_body":
        body = body + b" "
    if kind == "other_path":
        target = "/bridge/other"
    if kind in ("stale", "future"):
        now += -301 if kind == "stale" else 301
    signed = signing.sign_request(key, secret, case.method, target, body, now=now, nonce=nonce)
    headers = dict(signed)
    if kind == "bad_timestamp":
        headers[signing.HEADER_TIMESTAMP] = "soon"
    elif kind == "huge_timestamp":
        headers[signing.HEADER_TIMESTAMP] = "9" * 400
    elif kind == "empty_nonce":
        headers[signing.HEADER_NONCE] = ""
    elif kind == "long_nonce":
        headers[signing.HEADER_NONCE] = "n" * 129
    elif kind == "odd_nonce":
        headers[signing.HEADER_NONCE] = "\xe9\xff nonce"
    elif kind == "upper_hex":
        headers[signing.HEADER_SIGNATURE] = headers[signing.HEADER_SIGNATURE].upper()
    elif kind == "utf8_signature":  # "é" as UTF-8 bytes (each char below is one Latin-1 byte on the wire)
        headers[signing.HEADER_SIGNATURE] = "\xc3\xa9" * 32
    elif kind == "truncated":
        headers[signing.HEADER_SIGNATURE] = headers[signing.HEADER_SIGNATURE][:63]
    elif kind == "missing_signature":
        del headers[signing.HEADER_SIGNATURE]
    pairs = list(headers.items())
    if kind == "duplicate":
        pairs.append((signing.HEADER_SIGNATURE, "0" * 64))
    return pairs


def request_bytes(hub, case: BridgeCase) -> tuple[bytes, bool]:
    """The request as sent, and whether the client half-closes after it (a body announced longer)."""
    target = "/bridge/" + case.path
    head = [f"{case.method} {target} HTTP/1.1", f"Host: 127.0.0.1:{hub.settings.port}", "Connection: close"]
    if case.content_type is not None:
        head.append(f"Content-Type: {case.content_type}")
    for name, value in signature_headers(hub, case, target) + list(case.headers):
        head.append(f"{name}: {value}")
    head += [f"X-Filler-{i}: {i}" for i in range(case.many_headers)]
    body, half_close = case.body, False
    if case.framing == "length":
        head.append(f"Content-Length: {len(body)}")
    elif case.framing == "short":
        head.append(f"Content-Length: {len(body) // 2}")
    elif case.framing == "long":
        head.append(f"Content-Length: {len(body) + 10}")
        half_close = True
    elif case.framing in ("chunked", "bad_chunk"):
        head.append("Transfer-Encoding: chunked")
        size = max(1, len(body) // 3)
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        if case.framing == "bad_chunk":
            body = b"zz\r\n" + body[:-5]
            half_close = True
    raw = "\r\n".join(head).encode("latin-1", "replace") + b"\r\n\r\n" + body
    return raw, half_close


def run_bridge(hub, case: BridgeCase) -> int | None:
    """Send `case`; the status the hub answered, or None if it closed without answering."""
    raw, half_close = request_bytes(hub, case)
    sock = socket.create_connection(("127.0.0.1", hub.settings.port), timeout=ANSWER_TIMEOUT)
    try:
        try:
            sock.sendall(raw)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # answered (413) and closed while we were still sending: read what came
        response = http.client.HTTPResponse(sock, method=case.method.upper())
        try:
            response.begin()
            body = response.read()
        except (http.client.RemoteDisconnected, http.client.IncompleteRead, *GONE):
            return None
        except (socket.timeout, TimeoutError):
            raise Hang(f"no answer and no close within {ANSWER_TIMEOUT}s") from None
        except http.client.HTTPException as e:
            raise AssertionError(f"the hub's answer is not HTTP: {e!r}") from None
        status = response.status
        assert status != 500, f"500 from the bridge (a bug in it): {body[:300]!r}"
        if (response.getheader("content-type") or "").startswith("application/json") and body:
            answer = json.loads(body)
            assert isinstance(answer, dict), answer
        if half_close:
            wait_eof(sock)
        return status
    finally:
        sock.close()


@pytest.fixture(scope="module")
def hub_watch(tmp_path_factory):
    with fuzzed_hub(tmp_path_factory.mktemp("hostile_bridge")) as hub_and_watch:
        yield hub_and_watch


def test_the_bridge_survives_hostile_requests(hub_watch):
    hub, watch = hub_watch
    fuzz(watch, bridge_cases, lambda case: run_bridge(hub, case), "HTTP bridge")


def test_signed_well_formed_requests_reach_the_parsers_and_are_answered(hub_watch):
    """Validly signed requests with hostile fields: the parsers and the WAMP side answer each."""
    hub, watch = hub_watch
    cases = st.builds(
        BridgeCase,
        st.just("POST"),
        st.sampled_from(["publish", "batch", "call"]),
        bodies(),
        st.just("application/json"),
        st.sampled_from(["valid"] * 5 + ["odd_nonce"]),
        st.just("length"),
    )

    def run(case):
        status = run_bridge(hub, case)
        if case.signing == "valid":
            assert status != 401, "a validly signed request was refused as unauthorized"

    fuzz(watch, cases, run, "HTTP bridge, signed")

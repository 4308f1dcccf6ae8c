"""Defects the hostile suite found, each as the smallest input that showed it, against a real hub."""

from __future__ import annotations

import http.client
import socket

import pytest
from switchboard.bridge import signing

from tests.hostile import strategies as H
from tests.hostile.clients import ANSWER_TIMEOUT, decode, rs_open, ws_wait_closed
from tests.hostile.health import fuzzed_hub
from tests.wsraw import RawRawSocket, RawWebSocket


@pytest.fixture(scope="module")
def hub_watch(tmp_path_factory):
    with fuzzed_hub(tmp_path_factory.mktemp("hostile_regressions")) as hub_and_watch:
        yield hub_and_watch


def _closed_code(ws: RawWebSocket, serializer: str) -> int | None:
    return ws_wait_closed(ws).code


@pytest.mark.parametrize("serializer", H.SERIALIZERS)
@pytest.mark.parametrize(
    "message",
    [
        [H.HELLO, "", {"roles": {"caller": {}}}],  # an empty realm
        [H.HELLO, "a b", {"roles": {"caller": {}}}],
    ],
    ids=["empty_realm", "realm_with_space"],
)
def test_an_invalid_uri_in_hello_is_a_protocol_error_not_a_traceback(hub_watch, serializer, message):
    """Found by test_websocket_survives_hostile_wamp: Autobahn's message parser raises
    InvalidUriError (not a ProtocolError) for a URI that does not match its pattern; the router's
    WebSocket receive logged it with a traceback and closed with 1011 (internal error)."""
    hub, watch = hub_watch
    watch.begin()
    with RawWebSocket("127.0.0.1", hub.settings.port, serializer) as ws:
        ws.send(H.encode(serializer, message))
        assert _closed_code(ws, serializer) == 1002
    watch.check(f"HELLO with realm {message[1]!r}")


@pytest.mark.parametrize("serializer", H.SERIALIZERS)
def test_an_invalid_uri_in_a_call_is_a_protocol_error_not_a_traceback(hub_watch, serializer):
    """The same for a URI in a session: CALL with procedure "a b"."""
    hub, watch = hub_watch
    watch.begin()
    with RawWebSocket("127.0.0.1", hub.settings.port, serializer) as ws:
        ws.send(H.encode(serializer, [H.HELLO, H.REALM, {"roles": {"caller": {}}}]))
        assert decode(serializer, ws.recv())[0] == H.WELCOME
        ws.send(H.encode(serializer, [H.CALL, 1, {}, "a b", []]))
        assert _closed_code(ws, serializer) == 1002
    watch.check("CALL with procedure 'a b'")


@pytest.mark.parametrize("header", ["X-Switchboard-Nonce", "X-Switchboard-Key", "Content-Type"])
def test_a_bridge_header_that_is_not_utf8_is_answered_4xx_not_500(hub_watch, header):
    """Found by test_the_bridge_survives_hostile_requests: a header value that is not UTF-8 (here
    b"\\xe9", Latin-1 "é", which HTTP allows) made the bridge's header lookup raise
    UnicodeDecodeError (Twisted decodes str-named headers as UTF-8): a traceback in the router's log
    and Twisted's HTML "Processing Failed" 500, instead of a 401 (or 415 for the Content-Type)."""
    hub, watch = hub_watch
    watch.begin()
    body = b'{"topic": "public.regression"}'
    headers = dict(signing.sign_request(hub.bridge_key, hub.bridge_secret, "POST", "/bridge/publish", body))
    headers["Content-Type"] = "application/json"
    headers[header] = "\xe9"
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = (
        f"POST /bridge/publish HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(body)}\r\n{head}\r\n"
    ).encode("latin-1") + body
    try:
        with socket.create_connection(("127.0.0.1", hub.settings.port), timeout=10) as sock:
            sock.sendall(request)
            response = http.client.HTTPResponse(sock)
            response.begin()
            answer = response.read()
        assert response.status in (401, 415), (response.status, answer[:200])
    finally:
        watch.check(f"a non-UTF-8 {header}")  # also when the status was wrong: its traceback is this test's


HUGE_ID = 10**4301 - 1  # a CBOR bignum; CPython refuses to turn an int of over 4300 digits into text


def test_a_huge_integer_id_over_websocket_is_a_protocol_error_not_a_traceback(hub_watch):
    """Found by test_websocket_survives_hostile_wamp[cbor]: Autobahn's check_or_raise_id formats the
    refused id into its message, and str() of an integer of over 4300 digits raises ValueError: a
    traceback and close 1011 instead of a protocol error (1002)."""
    hub, watch = hub_watch
    watch.begin()
    with RawWebSocket("127.0.0.1", hub.settings.port, "cbor") as ws:
        ws.send(H.encode("cbor", [H.HELLO, H.REALM, {"roles": {"caller": {}}}]))
        assert decode("cbor", ws.recv())[0] == H.WELCOME
        ws.send(H.encode("cbor", [H.CALL, HUGE_ID, {}, "demo.add2", [1, 2]]))
        assert _closed_code(ws, "cbor") == 1002
    watch.check("CALL with a 4301-digit request id")


def test_a_huge_integer_id_over_rawsocket_before_hello_is_aborted_without_a_traceback(hub_watch):
    """The same on the RawSocket port, before any authentication: Autobahn's RawSocket receive logs
    every exception but its own protocol errors as a failure with a traceback."""
    hub, watch = hub_watch
    watch.begin()
    with RawRawSocket("127.0.0.1", hub.settings.backend_port, "cbor") as rs:
        rs.send(H.encode("cbor", [H.WELCOME, HUGE_ID, {}]))
        rs.wait_closed()
    watch.check("RawSocket WELCOME with a 4301-digit id")


def test_a_rawsocket_frame_announced_over_the_limit_is_aborted_without_a_traceback(hub_watch):
    """Found by test_rawsocket_survives_hostile_input_before_authentication: a length prefix over
    the negotiated maximum made Autobahn's lengthLimitExceeded raise PayloadExceededError out of
    Twisted's dataReceived, logged as "Unhandled Error" with a traceback (before any HELLO)."""
    hub, watch = hub_watch
    watch.begin()
    with RawRawSocket("127.0.0.1", hub.settings.backend_port, "json") as rs:
        rs.sock.sendall(b"\x00\xff\xff\xff" + b"[1,")
        rs.wait_closed()
    watch.check("a RawSocket frame announcing 16 MiB")


@pytest.mark.parametrize("before", ["nothing", "goodbye"])
def test_a_call_on_a_connection_without_a_session_is_closed_not_ignored(hub_watch, before):
    """Found by test_rawsocket_backend_session_survives_hostile_messages: Crossbar drops any message
    but HELLO, AUTHENTICATE and ABORT while no session is joined (its `raise ProtocolError` is
    commented out), so a CALL before HELLO or after GOODBYE was never answered and the connection
    stayed open: the client waits for ever."""
    hub, watch = hub_watch
    watch.begin()
    with RawWebSocket("127.0.0.1", hub.settings.port, "json") as ws:
        if before == "goodbye":
            ws.send(H.encode("json", [H.HELLO, H.REALM, {"roles": {"caller": {}}}]))
            assert decode("json", ws.recv())[0] == H.WELCOME
            ws.send(H.encode("json", [H.GOODBYE, {}, "wamp.close.normal"]))
            assert decode("json", ws.recv())[0] == H.GOODBYE
        ws.send(H.encode("json", [H.CALL, 1, {}, "demo.add2", [1, 2]]))
        assert ws_wait_closed(ws).code == 1002
    watch.check(f"CALL after {before}")


def test_a_second_hello_in_a_session_is_closed_not_logged_each_time(hub_watch):
    """Crossbar answers a HELLO in a joined session with a warning in the log and nothing else:
    the connection stays open, and a client could write one warning per message it sends."""
    hub, watch = hub_watch
    watch.begin()
    with RawWebSocket("127.0.0.1", hub.settings.port, "json") as ws:
        ws.send(H.encode("json", [H.HELLO, H.REALM, {"roles": {"caller": {}}}]))
        assert decode("json", ws.recv())[0] == H.WELCOME
        ws.send(H.encode("json", [H.HELLO, H.REALM, {"roles": {"caller": {}}}]))
        assert ws_wait_closed(ws).code == 1002
    watch.check("a second HELLO")


def test_a_call_after_goodbye_on_rawsocket_is_aborted_not_ignored(hub_watch):
    hub, watch = hub_watch
    watch.begin()
    rs = rs_open(hub, "json", "authenticated")
    with rs:
        rs.send(H.encode("json", [H.GOODBYE, {}, "wamp.close.normal"]))
        assert decode("json", rs.recv())[0] == H.GOODBYE
        rs.send(H.encode("json", [H.CALL, 1, {}, "demo.add2", [1, 2]]))
        rs.wait_closed(timeout=ANSWER_TIMEOUT)
    watch.check("RawSocket CALL after GOODBYE")


@pytest.mark.parametrize(
    "header, value",
    [
        ("X-Switchboard-Timestamp", "9" * 400),  # int() takes it; minus the clock's float overflows
        ("X-Switchboard-Signature", "\xc3\xa9" * 32),  # UTF-8 "é" (valid, non-ASCII): hmac.compare_digest refuses str
    ],
    ids=["huge_timestamp", "non_ascii_signature"],
)
def test_an_odd_signature_header_is_answered_401_not_500(hub_watch, header, value):
    """Found by test_the_bridge_survives_hostile_requests (with non-UTF-8 headers left out): the
    Verifier (bridge/signing.py) turns a 400-digit timestamp into an int and subtracts the clock's
    float from it (OverflowError), and compares a non-ASCII signature with hmac.compare_digest
    (TypeError for str): each a traceback and Twisted's 500 instead of a 401."""
    hub, watch = hub_watch
    watch.begin()
    body = b'{"topic": "public.regression"}'
    headers = dict(signing.sign_request(hub.bridge_key, hub.bridge_secret, "POST", "/bridge/publish", body))
    headers["Content-Type"] = "application/json"
    headers[header] = value
    head = "".join(f"{name}: {v}\r\n" for name, v in headers.items())
    request = (
        f"POST /bridge/publish HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(body)}\r\n{head}\r\n"
    ).encode("latin-1") + body
    try:
        with socket.create_connection(("127.0.0.1", hub.settings.port), timeout=10) as sock:
            sock.sendall(request)
            response = http.client.HTTPResponse(sock)
            response.begin()
            answer = response.read()
        assert response.status == 401, (response.status, answer[:200])
    finally:
        watch.check(f"an odd {header}")


@pytest.mark.parametrize("serializer", H.SERIALIZERS)
def test_an_abort_after_goodbye_is_a_protocol_error_not_a_traceback(hub_watch, serializer):
    """Seen once by test_websocket_survives_hostile_wamp (cbor): after GOODBYE the router session has
    left, but Crossbar still handles an ABORT as the session's leave and reads the details it no
    longer has (AttributeError: 'NoneType' object has no attribute 'authid', logged with a traceback)."""
    hub, watch = hub_watch
    watch.begin()
    with RawWebSocket("127.0.0.1", hub.settings.port, serializer) as ws:
        ws.send(H.encode(serializer, [H.HELLO, H.REALM, {"roles": {"caller": {}}}]))
        assert decode(serializer, ws.recv())[0] == H.WELCOME
        ws.send(H.encode(serializer, [6, {}, "wamp.close.normal"]))  # GOODBYE
        assert decode(serializer, ws.recv())[0] == 6
        ws.send(H.encode(serializer, [3, {}, "wamp.close.normal"]))  # ABORT
        ws_wait_closed(ws)
    watch.check("ABORT after GOODBYE")

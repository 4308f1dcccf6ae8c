"""Hostile input against a real hub: deep nesting at every decoder, values one serializer cannot
carry, oversized HTTP bodies, per-session rate limits and subscription caps, a slow consumer.

After each, the hub keeps serving everyone else and writes no traceback for the client's error.
"""

from __future__ import annotations

import json
import socket

import pytest
from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import limits
from switchboard.bridge.payload import NOT_PORTABLE
from switchboard.router.testing.hub import Hub, wait_until

from tests.integration.bridge_http import request
from tests.wsraw import Closed, RawRawSocket, RawWebSocket

DEEP = 100_000
#: deep frames per serializer: lists nested DEEP levels
DEEP_FRAMES = {
    "json": b"[" * DEEP,
    "msgpack": b"\x91" * DEEP + b"\x90",
    "cbor": b"\x81" * DEEP + b"\x80",
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    env = {
        "SWITCHBOARD_CALLS_PER_SECOND": "5",
        "SWITCHBOARD_CALL_BURST": "10",
        "SWITCHBOARD_MAX_SUBSCRIPTIONS": "3",
        "SWITCHBOARD_SEND_BUFFER": "262144",
    }
    with Hub.started(tmp_path_factory.mktemp("hostile"), env=env) as hub:
        yield hub


def assert_serves(hub):
    with hub.client() as c:
        assert c.call("demo.add2", 2, 3) == 5


def assert_no_traceback(hub):
    assert "Traceback" not in hub.log_text()


@pytest.mark.parametrize("serializer", sorted(DEEP_FRAMES))
def test_a_deep_websocket_frame_before_hello_is_closed_and_the_router_keeps_serving(hub, serializer):
    with RawWebSocket("127.0.0.1", hub.settings.port, serializer) as ws:
        ws.send(DEEP_FRAMES[serializer])
        assert_serves(hub)  # before the fix, JSON held the router for about 106 s
        closed = ws.wait_closed()
    assert closed.code in (None, 1002)
    assert_no_traceback(hub)
    line = next(line for line in reversed(hub.log_text().splitlines()) if "failing WebSocket connection" in line)
    assert "client tcp4:127.0.0.1:" in line and "1002" in line, line  # one line, naming the peer


@pytest.mark.parametrize("serializer", sorted(DEEP_FRAMES))
def test_a_deep_rawsocket_message_is_aborted_and_the_router_keeps_serving(hub, serializer):
    with RawRawSocket("127.0.0.1", hub.settings.backend_port, serializer) as rs:
        rs.send(DEEP_FRAMES[serializer])
        assert_serves(hub)
        rs.wait_closed()
    assert_no_traceback(hub)


def test_a_message_just_inside_the_depth_limit_is_served(hub):
    depth = limits.LIMITS["max_depth"].default
    value = 1
    for _ in range(depth - 3):  # the CALL's list and its args list are two levels
        value = [value]
    with hub.client() as c:
        with pytest.raises(ApplicationError) as info:
            c.call("demo.add2", value, 1)
    assert info.value.error == "switchboard.error.invalid_argument"  # reached the component


def test_a_deep_bridge_body_is_refused_with_400_and_the_router_survives(hub):
    body = b'{"topic": "public.x", "args": ' + b"[" * DEEP + b"]" * DEEP + b"}"
    status, answer = request(hub, "publish", raw=body)
    assert status == 400 and answer["error"] == "switchboard.error.too_deep"
    assert_serves(hub)
    assert_no_traceback(hub)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400", str(2**64)])
def test_the_bridge_refuses_values_a_subscriber_cannot_receive(hub, value):
    body = ('{"topic": "public.portable", "args": [%s]}' % value).encode()
    status, answer = request(hub, "publish", raw=body)
    assert status == 400, answer
    assert answer["error"] in (NOT_PORTABLE, "switchboard.error.bad_request")


def test_the_bridge_refuses_a_body_that_is_not_json(hub):
    status, answer = request(hub, "publish", raw=b"topic=public.x", headers={"Content-Type": "text/plain"})
    assert status == 415 and answer["error"] == "switchboard.error.unsupported_media_type"


def test_a_huge_content_length_is_answered_413_at_once(hub):
    with socket.create_connection(("127.0.0.1", hub.settings.port), timeout=10) as s:
        s.sendall(
            b"POST /bridge/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 99999999999\r\n\r\n{}"
        )
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert_serves(hub)


def test_a_connection_that_never_finishes_its_request_is_closed_and_a_websocket_stays(tmp_path):
    with Hub.started(tmp_path, env={"SWITCHBOARD_HTTP_TIMEOUT": "2"}) as small, small.client() as c:
        with socket.create_connection(("127.0.0.1", small.settings.port), timeout=30) as s:
            s.sendall(b"\x01\x02 random bytes and no line end")
            assert s.recv(100) == b""  # closed by the hub (before: held open for ever)
        with socket.create_connection(("127.0.0.1", small.settings.port), timeout=30) as s:
            assert s.recv(100) == b""  # a connection that sends nothing at all
        assert c.call("demo.add2", 1, 2) == 3  # the WebSocket session outlived the HTTP timeout
        assert "Traceback" not in small.log_text()


def test_a_chunked_body_past_the_limit_is_answered_413(hub):
    with socket.create_connection(("127.0.0.1", hub.settings.port), timeout=10) as s:
        s.sendall(
            b"POST /bridge/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 65536
        try:
            for _ in range(40):  # 2.5 MiB, past the 1 MiB default
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the hub answered and closed while we were still sending
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


@pytest.mark.parametrize("serializer", ["json", "cbor"])  # a MessagePack client cannot encode 2**64
def test_a_call_with_an_integer_past_msgpack_gets_invalid_payload_at_once(hub, serializer):
    with hub.client(serializer=serializer) as c:
        with pytest.raises(ApplicationError) as info:
            c.call("demo.add2", 2**64, 1, timeout=5)
    assert info.value.error == NOT_PORTABLE


def test_an_event_with_an_unportable_value_reaches_nobody_and_the_publisher_is_told(hub):
    with hub.client(serializer="msgpack") as m, hub.client(serializer="json") as j:
        subs = [m.subscribe("public.portable"), j.subscribe("public.portable")]
        with hub.backend_client(serializer="json") as backend:
            with pytest.raises(ApplicationError) as info:
                backend.publish("public.portable", 2**64)
            assert info.value.error == NOT_PORTABLE
            backend.publish("public.portable", "after")
        for sub in subs:
            assert sub.get(timeout=5).args == ("after",), "the refused event must reach no subscriber"


def test_a_callee_answering_an_unportable_value_gives_its_caller_an_error_not_a_hang(hub):
    with hub.backend_client(serializer="json") as callee, hub.backend_client(serializer="msgpack") as caller:
        callee.register("test.nan_answer", lambda: float("nan"))
        with pytest.raises(ApplicationError) as info:
            caller.call("test.nan_answer", timeout=5)
    assert info.value.error == NOT_PORTABLE


def test_calls_past_the_rate_limit_get_rate_limited_and_others_are_unaffected(hub):
    with hub.client() as greedy, hub.client() as other:
        answers = []
        for _ in range(30):
            try:
                answers.append(greedy.call("demo.add2", 1, 1))
            except ApplicationError as e:
                answers.append(e.error)
        assert limits.RATE_LIMITED in answers and 2 in answers
        assert other.call("demo.add2", 1, 1) == 2
        assert wait_until(lambda: greedy.call("demo.add2", 1, 2) == 3, timeout=10, what="bucket refilled")
    assert_no_traceback(hub)
    # one warning per refusal, naming the client and the limit (within the client-error log budget)
    line = wait_until(
        lambda: next((ln for ln in hub.log_text().splitlines() if f"refused with {limits.RATE_LIMITED}" in ln), None),
        what="the refusal's log line",
    )
    assert "client tcp4:127.0.0.1:" in line and "calls/s; slow down" in line, line


def test_subscriptions_past_the_cap_get_limit_exceeded(hub):
    with hub.client() as c:
        for i in range(3):
            c.subscribe(f"public.cap.{i}")
        with pytest.raises(ApplicationError) as info:
            c.subscribe("public.cap.3")
    assert info.value.error == limits.LIMIT_EXCEEDED


def test_a_slow_consumer_is_dropped_and_a_normal_subscriber_gets_every_event(hub):
    topic = "public.flood"
    slow = RawWebSocket("127.0.0.1", hub.settings.port, "json", rcvbuf=4096)
    slow.send(json.dumps([1, hub.realm, {"roles": {"subscriber": {}}}]).encode())
    assert json.loads(slow.recv())[0] == 2  # WELCOME
    slow.send(json.dumps([32, 1, {}, topic]).encode())
    assert json.loads(slow.recv())[0] == 33  # SUBSCRIBED; from now on it never reads
    events = 5000
    with hub.client() as normal, hub.backend_client() as backend:
        sub = normal.subscribe(topic)
        for i in range(events):
            backend.publish(topic, i, "x" * 4096)
        backend.publish(topic, "end")
        received = [sub.get(timeout=10).args[0] for _ in range(events + 1)]
    assert received == [*range(events), "end"]
    wait_until(lambda: "slow consumer" in hub.log_text(), timeout=10, what="the slow consumer dropped")
    with pytest.raises((Closed, ConnectionResetError, OSError)):
        slow.sock.settimeout(5)
        while True:
            if not slow.sock.recv(65536):
                raise Closed()
    slow.close()
    assert_no_traceback(hub)


def test_decisions_stay_right_when_the_bounded_authorization_cache_evicts(tmp_path):
    """Each new URI under a cacheable rule is a cache entry; with a cache of 20, 200 URIs evict over
    and over (tests/unit/test_authcache.py holds the bound itself) and every answer stays right."""
    with Hub.started(tmp_path, env={"SWITCHBOARD_AUTHORIZATION_CACHE": "20"}) as small, small.client() as c:
        for i in range(200):
            c.subscribe(f"chat.room.probe-{i}").unsubscribe()
            if i % 50 == 0:
                with pytest.raises(ApplicationError) as info:
                    c.subscribe(f"secret.probe-{i}")
                assert info.value.error == "wamp.error.not_authorized"
        assert c.call("demo.add2", 1, 1) == 2
        assert "Traceback" not in small.log_text()


def test_the_message_size_limit_applies_to_websocket_messages_and_bridge_bodies(tmp_path):
    with Hub.started(tmp_path, env={"SWITCHBOARD_MAX_MESSAGE_SIZE": "4096"}) as small:
        with RawWebSocket("127.0.0.1", small.settings.port, "json") as ws:
            ws.send(json.dumps([1, small.realm, {"roles": {"caller": {}}}, "x" * 5000]).encode())
            assert ws.wait_closed().code in (None, 1009)
        status, answer = request(small, "publish", {"topic": "public.big", "args": ["x" * 5000]})
        assert status == 413 and answer["error"] == "switchboard.error.too_large"
        status, _ = request(small, "publish", {"topic": "public.small", "args": ["x" * 100]})
        assert status == 200
        assert "Traceback" not in small.log_text()

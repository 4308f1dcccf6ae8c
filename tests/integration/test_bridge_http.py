"""The HTTP bridge protocol against a real hub (docs/http-bridge.md), with raw signed requests."""

import asyncio
import json
import time

import pytest
from switchboard.bridge.signing import HEADER_TIMESTAMP, sign_request

from tests.integration.bridge_http import request


def test_health_is_unsigned(switchboard_hub):
    assert request(switchboard_hub, "health", method="GET", sign=False) == (200, {"status": "ok"})


def test_publish_reaches_subscribers_once_per_id(switchboard_hub, switchboard_client):
    sub = switchboard_client.subscribe("chat.room.bridge")
    body = {"topic": "chat.room.bridge", "args": [{"n": 1}], "kwargs": {"k": "v"}, "id": "evt-1"}
    assert request(switchboard_hub, "publish", body) == (200, {"id": "evt-1", "duplicate": False})
    assert request(switchboard_hub, "publish", body) == (200, {"id": "evt-1", "duplicate": True})
    request(switchboard_hub, "publish", {**body, "id": "evt-2", "args": [{"n": 2}]})
    first = sub.get()
    assert first.args == ({"n": 1},) and first.kwargs == {"k": "v"}
    assert sub.get().args == ({"n": 2},), "the duplicate must not have been delivered"


def test_batch_is_delivered_in_order(switchboard_hub, switchboard_client):
    sub = switchboard_client.subscribe("chat.room.batch")
    events = [{"topic": "chat.room.batch", "args": [i], "id": f"b-{i}"} for i in range(50)]
    status, body = request(switchboard_hub, "batch", {"events": events})
    assert status == 200 and [r["id"] for r in body["results"]] == [e["id"] for e in events]
    assert [sub.get().args[0] for _ in events] == list(range(50))


def test_batch_validates_everything_before_publishing(switchboard_hub, switchboard_client):
    sub = switchboard_client.subscribe("chat.room.halfbatch")
    status, body = request(
        switchboard_hub, "batch", {"events": [{"topic": "chat.room.halfbatch", "args": [1]}, {"topic": "not a uri"}]}
    )
    assert status == 400 and "events[1].topic" in body["message"] and body["index"] == 1
    request(switchboard_hub, "publish", {"topic": "chat.room.halfbatch", "args": ["after"]})
    assert sub.get().args == ("after",)


def test_call_returns_results_and_maps_errors(switchboard_hub):
    assert request(switchboard_hub, "call", {"procedure": "demo.add2", "args": [2, 3]}) == (
        200,
        {"args": [5], "kwargs": {}},
    )
    status, body = request(switchboard_hub, "call", {"procedure": "demo.add2", "args": [2, "x"]})
    assert status == 422 and body["error"] == "switchboard.error.invalid_argument" and body["args"]
    status, body = request(switchboard_hub, "call", {"procedure": "no.such.thing"})
    assert status == 404 and body["error"] == "wamp.error.no_such_procedure"
    status, body = request(switchboard_hub, "call", {"procedure": "chat.post", "args": ["Bad Room", "x", "y"]})
    assert status == 422 and body["error"] == "switchboard.error.invalid_room"


def test_call_timeout_gives_504_and_cancels_the_call(switchboard_hub):
    interrupted = asyncio.Event()
    with switchboard_hub.backend_client() as backend:

        async def never_answers():
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                interrupted.set()
                raise

        backend.register("test.never", never_answers)
        started = time.monotonic()
        status, body = request(switchboard_hub, "call", {"procedure": "test.never", "timeout": 1})
        assert status == 504 and body["error"] == "switchboard.error.timeout"
        assert time.monotonic() - started < 25  # the hub answered, not the HTTP client's own timeout
        backend._invoke(lambda: asyncio.wait_for(interrupted.wait(), 10))  # the callee saw the cancel
    assert request(switchboard_hub, "call", {"procedure": "demo.add2", "args": [1, 1]})[0] == 200


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ({"topic": "a b"}, 400, "not a valid WAMP URI"),
        ({"args": [1]}, 400, "topic must be"),
        ({"topic": "wamp.session.on_join"}, 400, "reserved"),
        ({"topic": "chat.room.x", "options": {"nonsense": 1}}, 400, "not supported"),
    ],
)
def test_bad_publish_bodies(switchboard_hub, body, status, fragment):
    got_status, got = request(switchboard_hub, "publish", body)
    assert got_status == status and fragment in got["message"] and got["error"] == "switchboard.error.bad_request"


def test_bad_json_and_too_large(switchboard_hub):
    status, body = request(switchboard_hub, "publish", raw=b"{not json")
    assert status == 400 and "not valid JSON" in body["message"]
    too_large = json.dumps({"topic": "a", "args": ["x" * (1 << 20)]}).encode()
    status, body = request(switchboard_hub, "publish", raw=too_large)
    assert status == 413 and body["error"] == "switchboard.error.too_large"


def test_signature_failures_are_401(switchboard_hub):
    def reason(**kwargs):
        status, body = request(switchboard_hub, "publish", {"topic": "chat.room.x"}, **kwargs)
        assert status == 401 and body["error"] == "switchboard.error.unauthorized"
        return body["reason"]

    assert reason(sign=False) == "unsigned"
    assert reason(secret="wrong") == "bad_signature"
    assert reason(key="someone") == "unknown_key"
    stale = sign_request(
        switchboard_hub.bridge_key,
        switchboard_hub.bridge_secret,
        "POST",
        "/bridge/publish",
        b'{"topic": "chat.room.x"}',
        now=time.time() - 3600,
    )
    assert reason(headers=stale, sign=False, raw=b'{"topic": "chat.room.x"}') == "stale_timestamp"
    future = sign_request(
        switchboard_hub.bridge_key,
        switchboard_hub.bridge_secret,
        "POST",
        "/bridge/publish",
        b'{"topic": "chat.room.x"}',
        now=time.time() + 3600,
    )
    assert reason(headers=future, sign=False, raw=b'{"topic": "chat.room.x"}') == "stale_timestamp"
    moved = {**stale, HEADER_TIMESTAMP: str(int(time.time()))}  # a stale request re-dated by hand
    assert reason(headers=moved, sign=False, raw=b'{"topic": "chat.room.x"}') == "bad_signature"


def test_a_captured_request_cannot_be_replayed(switchboard_hub, switchboard_client):
    sub = switchboard_client.subscribe("chat.room.replay")
    raw = json.dumps({"topic": "chat.room.replay", "args": ["once"]}).encode()
    headers = sign_request(switchboard_hub.bridge_key, switchboard_hub.bridge_secret, "POST", "/bridge/publish", raw)
    assert request(switchboard_hub, "publish", raw=raw, headers=headers, sign=False)[0] == 200
    status, body = request(switchboard_hub, "publish", raw=raw, headers=headers, sign=False)
    assert status == 401 and body["reason"] == "replayed"
    request(switchboard_hub, "publish", {"topic": "chat.room.replay", "args": ["next"]})
    assert [sub.get().args[0], sub.get().args[0]] == ["once", "next"]


def test_wrong_method_and_path(switchboard_hub):
    assert request(switchboard_hub, "publish", method="GET", sign=False)[0] == 405
    assert request(switchboard_hub, "nowhere", {"x": 1})[0] == 404

"""switchboard.bridge.client / switchboard.bridge.errors / switchboard.bridge.retry without a hub.

The pure parts (status mapping, backoff schedule, retry policy, argument checks) are tested
directly. Request and retry behaviour is tested against a real tiny HTTP server on 127.0.0.1 that
records requests and answers from a script, checking each request's signature with the hub's own
Verifier (so a reused nonce would be refused as a replay).
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import socket
import threading
from dataclasses import FrozenInstanceError
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from switchboard.bridge import client as client_module
from switchboard.bridge import errors
from switchboard.bridge.client import CallResult, HubClient, PublishResult
from switchboard.bridge.errors import interpret
from switchboard.bridge.retry import backoff_delays, should_retry
from switchboard.bridge.signing import HEADER_NONCE, HEADER_SIGNATURE, Verifier

KEY, SECRET = "django", "s3cret"


def body(value) -> bytes:
    return json.dumps(value).encode()


# -- interpret: every status of docs/http-bridge.md ----------------------------------------------


def test_200_gives_the_decoded_body():
    assert interpret(200, b'{"id":"e1","duplicate":false}') == {"id": "e1", "duplicate": False}


@pytest.mark.parametrize("raw", [b"", b"<html>ok</html>"])
def test_200_without_json_is_an_error(raw):
    with pytest.raises(errors.SwitchboardError) as info:
        interpret(200, raw)
    assert type(info.value) is errors.SwitchboardError and info.value.status == 200


@pytest.mark.parametrize(
    "status, answer, cls, uri",
    [
        (
            400,
            {"error": "switchboard.error.bad_request", "message": "topic must be a non-empty string"},
            errors.BadRequest,
            "switchboard.error.bad_request",
        ),
        (
            400,
            {"error": "wamp.error.invalid_uri", "args": ["invalid URI"]},
            errors.BadRequest,
            "wamp.error.invalid_uri",
        ),
        (400, {"error": "wamp.error.invalid_argument", "args": []}, errors.BadRequest, "wamp.error.invalid_argument"),
        (
            401,
            {"error": "switchboard.error.unauthorized", "reason": "bad_signature", "message": "no match"},
            errors.NotAuthorized,
            "switchboard.error.unauthorized",
        ),
        (
            403,
            {"error": "wamp.error.not_authorized", "args": ["denied"]},
            errors.NotAuthorized,
            "wamp.error.not_authorized",
        ),
        (
            404,
            {"error": "wamp.error.no_such_procedure", "args": ["no callee"]},
            errors.NoSuchProcedure,
            "wamp.error.no_such_procedure",
        ),
        (
            404,
            {"error": "switchboard.error.not_found", "message": "no bridge endpoint 'x'"},
            errors.SwitchboardError,
            "switchboard.error.not_found",
        ),
        (
            405,
            {"error": "switchboard.error.method_not_allowed"},
            errors.SwitchboardError,
            "switchboard.error.method_not_allowed",
        ),
        (413, {"error": "switchboard.error.too_large"}, errors.BadRequest, "switchboard.error.too_large"),
        (
            422,
            {"error": "app.error.no_stock", "args": ["out of stock", 3], "kwargs": {"sku": "A1"}},
            errors.ApplicationError,
            "app.error.no_stock",
        ),
        (
            500,
            {"error": "wamp.error.runtime_error", "args": ["boom"]},
            errors.ApplicationError,
            "wamp.error.runtime_error",
        ),
        (502, {"error": "wamp.error.canceled", "args": []}, errors.ApplicationError, "wamp.error.canceled"),
        (503, {"error": "switchboard.error.unavailable"}, errors.HubUnavailable, "switchboard.error.unavailable"),
        (504, {"error": "switchboard.error.timeout"}, errors.CallTimeout, "switchboard.error.timeout"),
        (418, {"error": "x.teapot"}, errors.SwitchboardError, "x.teapot"),
    ],
)
def test_each_status_raises_its_error(status, answer, cls, uri):
    with pytest.raises(errors.SwitchboardError) as info:
        interpret(status, body(answer))
    error = info.value
    assert type(error) is cls
    assert error.status == status and error.uri == uri and error.body == answer
    assert error.error_args == answer.get("args", []) and error.error_kwargs == answer.get("kwargs", {})
    assert uri in str(error) and f"HTTP {status}" in str(error)


def test_the_message_says_what_the_hub_said():
    error = errors.error_for(422, body({"error": "app.error.no_stock", "args": ["out of stock"]}))
    assert str(error) == "app.error.no_stock: out of stock [HTTP 422]"
    refused = errors.error_for(
        401, body({"error": "switchboard.error.unauthorized", "reason": "replayed", "message": "nonce already used"})
    )
    assert refused.reason == "replayed" and "(replayed) nonce already used" in str(refused)


def test_a_503_is_retryable_and_the_hub_did_nothing():
    error = errors.error_for(503, body({"error": "switchboard.error.unavailable"}))
    assert isinstance(error, errors.HubUnavailable) and error.maybe_processed is False


@pytest.mark.parametrize("status", [502, 504])
def test_a_proxys_gateway_error_without_a_bridge_body_means_the_hub_is_unavailable(status):
    error = errors.error_for(status, b"<html><body>502 Bad Gateway</body></html>")
    assert isinstance(error, errors.HubUnavailable) and error.status == status and error.maybe_processed
    assert "Bad Gateway" in str(error)


def test_a_non_json_error_body_still_maps_by_status():
    error = errors.error_for(403, b"Forbidden")
    assert isinstance(error, errors.NotAuthorized) and error.uri is None and "Forbidden" in str(error)


def test_error_constructor_keeps_the_wamp_payload():
    error = errors.ApplicationError("m", status=422, uri="a.b", args=(1, 2), kwargs={"k": 3})
    assert (error.message, error.status, error.uri, error.error_args, error.error_kwargs) == (
        "m",
        422,
        "a.b",
        [1, 2],
        {"k": 3},
    )
    assert errors.SwitchboardError("m").error_kwargs == {} and errors.SwitchboardError("m").status is None


# -- backoff and retry policy --------------------------------------------------------------------


def test_backoff_doubles_with_jitter_between_half_and_all_of_the_delay():
    assert list(backoff_delays(4, 0.2, rand=lambda: 0.0)) == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert list(backoff_delays(4, 0.2, rand=lambda: 1.0)) == pytest.approx([0.2, 0.4, 0.8, 1.6])
    assert list(backoff_delays(2, 1.0, rand=iter([0.5, 0.2]).__next__)) == pytest.approx([0.75, 1.2])


def test_backoff_is_capped_and_empty_without_retries():
    assert list(backoff_delays(6, 1.0, cap=4.0, rand=lambda: 1.0)) == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert list(backoff_delays(0, 1.0)) == []
    assert list(backoff_delays(3, 0.0)) == [0.0, 0.0, 0.0]


def test_default_jitter_varies():
    assert len({tuple(backoff_delays(3, 1.0)) for _ in range(5)}) > 1


def unreached():
    return errors.HubUnavailable("refused")


def lost():
    return errors.HubUnavailable("reset", maybe_processed=True)


@pytest.mark.parametrize(
    "error, publish, call",
    [
        (unreached(), True, True),
        (lost(), True, False),
        (errors.error_for(503, b"{}"), True, True),
        (errors.error_for(502, body({"error": "wamp.error.x"})), True, False),
        (errors.error_for(504, body({"error": "switchboard.error.timeout"})), True, False),
        (errors.error_for(500, body({"error": "wamp.error.runtime_error"})), False, False),
        (errors.error_for(422, body({"error": "app.x"})), False, False),
        (errors.error_for(400, b"{}"), False, False),
        (errors.error_for(401, b"{}"), False, False),
        (errors.error_for(404, body({"error": "wamp.error.no_such_procedure"})), False, False),
        (errors.BadRequest("checked before sending"), False, False),
    ],
)
def test_retry_policy(error, publish, call):
    assert should_retry(error, idempotent=True) is publish
    assert should_retry(error, idempotent=False) is call


# -- arguments checked before anything is sent ---------------------------------------------------


@pytest.fixture
def offline():
    """A client whose hub does not exist: any request would fail with HubUnavailable, not the expected error."""
    with HubClient("http://127.0.0.1:9/bridge/", KEY, SECRET, retries=0) as client:
        yield client


@pytest.mark.parametrize(
    "action, error, words",
    [
        (lambda c: c.publish(7), TypeError, "topic must be a str, not int"),
        (lambda c: c.publish(b"a.b"), TypeError, "topic must be a str"),
        (lambda c: c.publish(""), errors.BadRequest, "not a valid topic URI"),
        (lambda c: c.publish("a..b"), errors.BadRequest, "not a valid topic URI"),
        (lambda c: c.publish("a b"), errors.BadRequest, "not a valid topic URI"),
        (
            lambda c: c.publish("a.b", when=datetime.date(2024, 1, 1)),
            TypeError,
            "kwargs['when'] is a datetime.date, which is not JSON-serialisable",
        ),
        (lambda c: c.publish("a.b", 1, {"x": [0, {1, 2}]}), TypeError, "args[1]['x'][1] is a set"),
        (lambda c: c.publish("a.b", math.nan), TypeError, "args[0] is nan, which is not valid JSON"),
        (lambda c: c.publish("a.b", 2**64), TypeError, "MessagePack subscribers cannot receive"),
        (lambda c: c.call("a.b", {"n": -(2**63) - 1}), TypeError, "outside [-2**63, 2**64 - 1]"),
        (
            lambda c: c.publish("a.b", functools.reduce(lambda v, _: [v], range(32), 1)),
            TypeError,
            "nested deeper than 32 levels",
        ),
        (lambda c: c.publish_event("a.b", "abc"), TypeError, "args must be a list or tuple, not str"),
        (lambda c: c.publish_event("a.b", [], [1]), TypeError, "kwargs must be a dict, not list"),
        (lambda c: c.publish_event("a.b", [], {1: 2}), TypeError, "kwargs keys must be str"),
        (
            lambda c: c.publish("a.b", options={"retain": True}),
            errors.BadRequest,
            "['options'] are reserved by the bridge (for publish options use publish_event",
        ),
        (lambda c: c.call("a.b", options=1), errors.BadRequest, "['options'] are reserved"),
        (lambda c: c.publish("wamp.session.on_join"), errors.BadRequest, "reserved for the router"),
        (lambda c: c.publish_event("a.b", id=5), TypeError, "id must be a str, not int"),
        (lambda c: c.publish_event("a.b", id=""), errors.BadRequest, "id must be 1 to 128 characters"),
        (lambda c: c.publish_event("a.b", id="x" * 129), errors.BadRequest, "id must be 1 to 128 characters"),
        (
            lambda c: c.publish_event("a.b", options={"acknowledge": True}),
            errors.BadRequest,
            "unknown publish option(s) ['acknowledge']",
        ),
        (lambda c: c.publish_event("a.b", options=["retain"]), TypeError, "options must be a dict"),
        (lambda c: c.publish("a.b", "x" * (1024 * 1024)), errors.BadRequest, "at most 1,048,576"),
        (lambda c: c.publish_many([{"topic": "a.b"}, "c.d"]), TypeError, "events[1] must be a dict"),
        (
            lambda c: c.publish_many([{"topic": "a.b", "arg": [1]}]),
            errors.BadRequest,
            "events[0] has unknown field(s) ['arg']",
        ),
        (lambda c: c.publish_many([{"args": [1]}]), errors.BadRequest, "events[0] has no 'topic'"),
        (
            lambda c: c.publish_many([{"topic": "a.b"}, {"topic": "a.b", "kwargs": {"t": object()}}]),
            TypeError,
            "events[1]: kwargs['t'] is a object",
        ),
        (lambda c: c.call(None), TypeError, "procedure must be a str"),
        (lambda c: c.call("demo add2"), errors.BadRequest, "not a valid procedure URI"),
        (lambda c: c.call("demo.add2", timeout=0), errors.BadRequest, "timeout must be more than 0"),
        (lambda c: c.call("demo.add2", timeout=301), errors.BadRequest, "at most 300 seconds"),
        (lambda c: c.call("demo.add2", timeout="5"), TypeError, "timeout must be a number"),
        (lambda c: c.call("demo.add2", 1, b"2"), TypeError, "args[1] is a bytes"),
    ],
)
def test_bad_arguments_fail_before_sending_with_a_clear_message(offline, action, error, words):
    with pytest.raises(error) as info:
        action(offline)
    assert words in str(info.value)
    if isinstance(info.value, errors.SwitchboardError):
        assert info.value.status is None


def test_a_circular_value_is_named():
    loop = []
    loop.append(loop)
    with pytest.raises(TypeError, match=r"args\[0\]\[0\] contains itself"):
        HubClient("http://127.0.0.1:9/bridge/", KEY, SECRET).publish("a.b", loop)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": "127.0.0.1:8080/bridge/"},
        {"url": "ftp://hub/bridge/"},
        {"url": "http://hub/bridge/?x=1"},
        {"key": ""},
        {"secret": ""},
        {"timeout": 0},
        {"retries": -1},
        {"retries": 1.5},
        {"backoff": -0.1},
        {"pool_size": 0},
    ],
)
def test_bad_client_settings_are_refused(kwargs):
    settings = {"url": "http://127.0.0.1:8080/bridge/", "key": KEY, "secret": SECRET, **kwargs}
    with pytest.raises(ValueError):
        HubClient(**settings)


def test_the_base_url_gets_its_trailing_slash():
    assert HubClient("http://127.0.0.1:8080/bridge", KEY, SECRET).url == "http://127.0.0.1:8080/bridge/"
    assert "s3cret" not in repr(HubClient("http://127.0.0.1:8080/bridge", KEY, SECRET))


def test_results_are_frozen_values():
    result = PublishResult("e1", False)
    with pytest.raises(FrozenInstanceError):
        result.duplicate = True
    assert CallResult([1], {"a": 2}) == CallResult([1], {"a": 2})


def test_batches_hold_at_most_1000_events_and_1_mib():
    small = [b'{"topic":"a"}'] * 2500
    assert [(offset, len(chunk)) for offset, chunk in client_module._chunks(small)] == [
        (0, 1000),
        (1000, 1000),
        (2000, 500),
    ]
    big = [b"x" * 400_000] * 5
    chunks = list(client_module._chunks(big))
    assert [(offset, len(chunk)) for offset, chunk in chunks] == [(0, 2), (2, 2), (4, 1)]
    assert all(len(client_module._batch_body(chunk)) <= client_module.MAX_BODY for _, chunk in chunks)


# -- requests and retries against a real tiny HTTP server ----------------------------------------

DROP = "drop"  # close the connection without answering
HANG = "hang"  # answer nothing until the test ends


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the hub's web transport

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self._answer()

    def _answer(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server: FakeHub = self.server
        with server.lock:
            server.requests.append((self.command, self.path, self.headers, raw))
            answer = server.script.pop(0) if server.script else server.default
        if answer == DROP:
            self.close_connection = True
            return
        if answer == HANG:
            server.released.wait(30)
            self.close_connection = True
            return
        status, payload = answer
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class FakeHub(ThreadingHTTPServer):
    """Records (method, path, headers, body) and answers from `script`, then with `default`."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock, self.released = threading.Lock(), threading.Event()
        self.requests: list = []
        self.script: list = []
        self.default = (200, {"id": "x", "duplicate": False})
        self.url = f"http://127.0.0.1:{self.server_address[1]}/bridge/"

    def bodies(self) -> list:
        return [json.loads(raw) if raw else None for _, _, _, raw in self.requests]


@pytest.fixture
def hub():
    server = FakeHub()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.released.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def waits():
    return []


@pytest.fixture
def client(hub, waits):
    with HubClient(hub.url, KEY, SECRET, timeout=5, retries=3, backoff=0.2) as c:
        c._random = lambda: 0.0
        c._sleep = waits.append  # record the backoff instead of waiting it out
        yield c


def test_each_try_is_signed_afresh_and_the_event_keeps_its_id(hub, client, waits):
    hub.script = [
        (503, {"error": "switchboard.error.unavailable"}),
        (502, {"error": "wamp.error.x"}),
        (200, {"id": "e1", "duplicate": True}),
    ]
    assert client.publish_event("notes.created", [{"id": 7}], {"by": "ann"}, id="e1") == PublishResult("e1", True)

    assert waits == pytest.approx([0.1, 0.2])
    verifier = Verifier({KEY: SECRET})
    for method, path, headers, raw in hub.requests:
        assert (method, path) == ("POST", "/bridge/publish")
        assert headers["Content-Type"] == "application/json"
        assert verifier.verify(method, path, headers, raw) == KEY  # a repeated nonce would be "replayed"
    assert len({headers[HEADER_NONCE] for _, _, headers, _ in hub.requests}) == 3
    assert len({headers[HEADER_SIGNATURE] for _, _, headers, _ in hub.requests}) == 3
    assert len({raw for *_, raw in hub.requests}) == 1, "every try sends the same event"
    assert hub.requests[0][3] == (b'{"topic":"notes.created","args":[{"id":7}],"kwargs":{"by":"ann"},"id":"e1"}'), (
        "compact JSON"
    )


def test_publish_generates_an_id_and_gives_up_after_the_last_retry(hub, client, waits):
    hub.default = (503, {"error": "switchboard.error.unavailable"})
    with pytest.raises(errors.HubUnavailable) as info:
        client.publish("a.b", 1, k=2)
    assert info.value.status == 503 and len(hub.requests) == 4 and len(waits) == 3
    sent = hub.bodies()[0]
    assert len(sent["id"]) == 32 and int(sent["id"], 16) >= 0
    assert sent["kwargs"] == {"k": 2}, "publish()'s keyword arguments are the payload"


def test_a_call_is_retried_on_503_and_sends_its_timeout(hub, client, waits):
    hub.script = [(503, {"error": "switchboard.error.unavailable"}), (200, {"args": [5], "kwargs": {}})]
    assert client.call("demo.add2", 2, 3, timeout=7) == 5
    assert hub.bodies() == [{"procedure": "demo.add2", "args": [2, 3], "kwargs": {}, "timeout": 7}] * 2
    assert hub.requests[0][1] == "/bridge/call" and len(waits) == 1


@pytest.mark.parametrize(
    "answer, error",
    [
        ((502, {"error": "wamp.error.canceled"}), errors.ApplicationError),
        ((504, {"error": "switchboard.error.timeout"}), errors.CallTimeout),
        ((500, {"error": "wamp.error.runtime_error", "args": ["boom"]}), errors.ApplicationError),
        (DROP, errors.HubUnavailable),
    ],
)
def test_a_call_that_may_have_run_is_not_sent_again(hub, client, waits, answer, error):
    hub.default = answer
    with pytest.raises(error):
        client.call("orders.place", {"sku": "A1"})
    assert len(hub.requests) == 1 and waits == []


def test_a_dropped_connection_is_retried_for_publish(hub, client, waits):
    hub.script = [DROP, DROP]
    assert client.publish("a.b", 1).duplicate is False
    assert len(hub.requests) == 3 and len(waits) == 2
    assert len({body["id"] for body in hub.bodies()}) == 1


def test_the_http_read_timeout_is_the_call_timeout_plus_a_margin(hub, client, waits, monkeypatch):
    monkeypatch.setattr(client_module, "CALL_TIMEOUT_MARGIN", 0.3)
    hub.default = HANG
    with pytest.raises(errors.HubUnavailable) as info:
        client.call("slow.thing", timeout=0.2)
    assert info.value.maybe_processed and "0.5s" in str(info.value)
    assert len(hub.requests) == 1 and waits == [], "never retried after a timeout"


def test_an_unreachable_hub_is_retried_then_hub_unavailable(waits):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with HubClient(f"http://127.0.0.1:{port}/bridge/", KEY, SECRET, retries=2) as c:
        c._sleep = waits.append
        with pytest.raises(errors.HubUnavailable) as info:
            c.call("demo.add2", 2, 3)
        assert not info.value.maybe_processed and len(waits) == 2, "a call that never reached the hub is retried"
        assert c.health() is False


def test_publish_many_sends_batches_of_1000_in_order(hub, client):
    def answer_batches():
        for size in (1000, 1000, 500):
            yield 200, {"results": [{"id": "?", "duplicate": False}] * size}

    hub.script = list(answer_batches())
    events = [{"topic": "a.b", "args": [i]} for i in range(2500)]
    events[1]["id"] = "mine"
    results = client.publish_many(events)
    assert len(results) == 2500
    batches = [b["events"] for b in hub.bodies()]
    assert [len(b) for b in batches] == [1000, 1000, 500]
    assert [e["args"][0] for b in batches for e in b] == list(range(2500))
    assert batches[0][1]["id"] == "mine" and len({e["id"] for b in batches for e in b}) == 2500
    assert {path for _, path, _, _ in hub.requests} == {"/bridge/batch"}
    assert client.publish_many([]) == [] and len(hub.requests) == 3


def test_publish_many_resends_only_what_the_hub_has_not_published(hub, client, waits):
    events = [{"topic": "a.b", "id": f"e{i}"} for i in range(5)]
    hub.script = [
        (
            503,
            {
                "error": "switchboard.error.unavailable",
                "index": 2,
                "results": [{"id": "e0", "duplicate": False}, {"id": "e1", "duplicate": False}],
            },
        ),
        (200, {"results": [{"id": f"e{i}", "duplicate": False} for i in range(2, 5)]}),
    ]
    results = client.publish_many(events)
    assert [r.id for r in results] == ["e0", "e1", "e2", "e3", "e4"] and not any(r.duplicate for r in results)
    assert [[e["id"] for e in b["events"]] for b in hub.bodies()] == [
        ["e0", "e1", "e2", "e3", "e4"],
        ["e2", "e3", "e4"],
    ]


def test_publish_many_reports_the_refused_event_and_what_was_published(hub, client, waits):
    events = [{"topic": "a.b", "id": f"e{i}"} for i in range(1003)]
    hub.script = [
        (200, {"results": [{"id": f"e{i}", "duplicate": False} for i in range(1000)]}),
        (
            403,
            {
                "error": "wamp.error.not_authorized",
                "args": ["no"],
                "index": 1,
                "results": [{"id": "e1000", "duplicate": False}],
            },
        ),
    ]
    with pytest.raises(errors.NotAuthorized) as info:
        client.publish_many(events)
    assert info.value.index == 1001
    assert [r.id for r in info.value.results] == [f"e{i}" for i in range(1001)]
    assert len(hub.requests) == 2 and waits == []


def test_call_results_take_the_simplest_shape(hub, client):
    hub.script = [
        (200, {"args": [], "kwargs": {}}),
        (200, {"args": [{"a": 1}], "kwargs": {}}),
        (200, {"args": [1, 2], "kwargs": {}}),
        (200, {"args": [1], "kwargs": {"b": 2}}),
    ]
    assert client.call("x.y") is None
    assert client.call("x.y") == {"a": 1}
    assert client.call("x.y") == CallResult([1, 2], {})
    assert client.call("x.y") == CallResult([1], {"b": 2})


def test_health_is_unsigned_and_reads_the_status(hub, client):
    hub.script = [(200, {"status": "ok"}), (503, {"status": "unavailable"})]
    assert client.health() is True
    assert client.health() is False
    method, path, headers, _ = hub.requests[0]
    assert (method, path) == ("GET", "/bridge/health") and HEADER_SIGNATURE not in headers
    hub.script = [(404, {"error": "switchboard.error.not_found", "message": "no bridge endpoint"})]
    with pytest.raises(errors.SwitchboardError):
        client.health()

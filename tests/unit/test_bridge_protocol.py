import json

import pytest
from switchboard.bridge import protocol as P


def bad(fn, *args):
    with pytest.raises(P.BadRequest) as info:
        fn(*args)
    return info.value


def test_parse_publish_defaults_and_options():
    event = P.parse_publish({"topic": "notes.created", "args": [1], "id": "e1", "options": {"retain": True}})
    assert event == P.PublishRequest("notes.created", [1], {}, "e1", {"retain": True})
    assert P.parse_publish({"topic": "a", "args": None, "kwargs": None}).args == []


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({}, "topic must be"),
        ({"topic": "a b"}, "not a valid WAMP URI"),
        ({"topic": "a..b"}, "not a valid WAMP URI"),
        ({"topic": "wamp.session.kill"}, "reserved"),
        ({"topic": "a", "args": {}}, "args must be a list"),
        ({"topic": "a", "kwargs": []}, "kwargs must be an object"),
        ({"topic": "a", "kwargs": {"options": 1}}, "reserved name"),
        ({"topic": "a", "id": ""}, "id must be"),
        ({"topic": "a", "id": "x" * 129}, "id must be"),
        ({"topic": "a", "options": {"acknowledge": False}}, "not supported"),
        ({"topic": "a", "options": {"exclude_authid": [1]}}, "authid strings"),
    ],
)
def test_parse_publish_rejects(body, fragment):
    assert fragment in str(bad(P.parse_publish, body))


def test_batch_names_the_bad_event_and_is_bounded():
    error = bad(P.parse_batch, {"events": [{"topic": "a"}, {"topic": ""}]})
    assert "events[1].topic" in str(error) and error.index == 1
    assert bad(P.parse_batch, {"events": [{"topic": "a"}] * (P.MAX_BATCH + 1)}).status == 413
    assert bad(P.parse_batch, {"events": []}).status == 400


def test_parse_call_timeout_rules():
    assert P.parse_call({"procedure": "demo.add2"}).timeout == P.DEFAULT_CALL_TIMEOUT
    assert P.parse_call({"procedure": "demo.add2", "timeout": 0.5}).timeout == 0.5
    for timeout in [0, -1, P.MAX_CALL_TIMEOUT + 1, "5", True]:
        assert "timeout" in str(bad(P.parse_call, {"procedure": "demo.add2", "timeout": timeout}))


def test_parse_json_limits():
    assert bad(P.parse_json, b"{nope").status == 400
    assert bad(P.parse_json, b"[1]").status == 400
    assert bad(P.parse_json, b" " * (P.MAX_BODY + 1)).status == 413
    assert P.parse_json(json.dumps({"a": 1}).encode()) == {"a": 1}


@pytest.mark.parametrize(
    "uri, status",
    [
        ("wamp.error.no_such_procedure", 404),
        ("wamp.error.not_authorized", 403),
        ("wamp.error.invalid_argument", 400),
        ("wamp.error.runtime_error", 500),
        ("wamp.error.something_new", 502),
        ("switchboard.error.invalid_room", 422),
        ("app.error.x", 422),
        (P.TIMEOUT, 504),
        (P.UNAVAILABLE, 503),
    ],
)
def test_status_for_error(uri, status):
    assert P.status_for_error(uri) == status

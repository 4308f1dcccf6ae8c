"""The cluster's wire format and names (router/cluster/wire.py) and its settings: pure."""

import pytest
from switchboard.router import settings as S
from switchboard.router.cluster import wire


def test_a_batch_round_trips_every_field():
    event = wire.RelayedEvent(
        "chat.room.lobby",
        2**53 - 1,
        args=[{"text": "hi"}, b"\x00bytes"],
        kwargs={"k": 1},
        publisher=(123, "alice", "user"),
        retain=True,
        filters={"exclude": [1, 2], "eligible_authrole": ["user"]},
    )
    node, events = wire.decode_batch(wire.encode_batch("node-a", [event.as_item()]))
    assert node == "node-a" and events == [event]


def test_an_empty_event_is_small_and_has_no_defaults_on_the_wire():
    item = wire.RelayedEvent("t", 1).as_item()
    assert item == {"t": "t", "p": 1}


@pytest.mark.parametrize(
    "data",
    [
        b"\xc1",  # not msgpack
        wire.msgpack.packb("not a batch"),
        wire.msgpack.packb([1, []]),
        wire.msgpack.packb(["n", [{"t": 1, "p": 1}]]),
        wire.msgpack.packb(["n", [{"t": "x", "p": "1"}]]),
        wire.msgpack.packb(["n", [{"t": "x", "p": 1, "a": {}}]]),
        wire.msgpack.packb(["n", [{"t": "x", "p": 1, "s": [1, 2]}]]),
        wire.msgpack.packb(["n", [{"t": "x", "p": 1, "f": {"everyone": 1}}]]),
    ],
)
def test_anything_else_on_the_channel_is_a_wire_error(data):
    with pytest.raises(wire.WireError):
        wire.decode_batch(data)


def test_names_are_under_one_prefix_per_realm():
    assert wire.events_channel("r1") != wire.events_channel("r2")
    assert wire.retained_key("r1").startswith("switchboard:r1:")
    assert wire.key("r1", "history", "t") == "switchboard:r1:history:t"


def test_the_redis_url_is_checked_and_its_password_kept_out_of_logs():
    assert S.redis_url({}) is None
    assert S.redis_url({S.ENV_REDIS_URL: "redis://127.0.0.1:6379/0"}) == "redis://127.0.0.1:6379/0"
    with pytest.raises(S.SettingsError, match=S.ENV_REDIS_URL):
        S.redis_url({S.ENV_REDIS_URL: "http://localhost"})
    assert S.without_password("redis://:s3cret@host:6379/0") == "redis://:***@host:6379/0"
    assert S.without_password("redis://user:s3cret@host/0") == "redis://user:***@host/0"
    assert S.without_password("redis://host:6379") == "redis://host:6379"


def test_node_local_topics_default_to_the_demo_clock():
    assert S.Runtime.from_env({}).node_local_topics == ("clock.tick",)
    assert S.Runtime.from_env({S.ENV_NODE_LOCAL_TOPICS: "a., b"}).node_local_topics == ("a.", "b")


@pytest.mark.parametrize("n", [0, 1, 15, 16, 70_000])
def test_a_batch_joined_from_encoded_items_is_the_batch(n):
    items = [wire.RelayedEvent("t", i, args=[i]).as_item() for i in range(n)]
    joined = wire.join_batch("node", [wire.encode_item(item) for item in items])
    assert joined == wire.encode_batch("node", items)


def test_a_forwarded_call_round_trips_and_asks_for_progress_only_when_its_caller_did():
    call = wire.ForwardedCall(7, "node-b", "app.stream", (1, "ann", "user"), [1], {"k": 2}, 5000, progress=True)
    assert wire.ForwardedCall.decode(call.encode()) == call
    plain = wire.ForwardedCall(8, "node-b", "app.echo", (1, "ann", "user"))
    assert "p" not in wire.msgpack.unpackb(plain.encode())  # what a node before progressive results wrote
    assert wire.ForwardedCall.decode(plain.encode()).progress is False


def test_a_progressive_answer_is_marked_and_a_final_one_is_as_before():
    progressive = wire.CallAnswer(7, [1], None, progress=True)
    assert wire.CallAnswer.decode(progressive.encode()) == progressive
    final = wire.CallAnswer(7, ["done"], {"n": 3})
    assert wire.msgpack.unpackb(final.encode()) == {"i": 7, "a": ["done"], "k": {"n": 3}, "e": None}
    assert wire.CallAnswer.decode(final.encode()).progress is False


@pytest.mark.parametrize("mode", wire.CANCEL_MODES)
def test_a_cancel_round_trips_on_the_calls_channel_beside_the_calls(mode):
    cancel = wire.CancelCall(7, "node-b", 2**53 - 1, mode)
    assert wire.decode_on_calls(cancel.encode()) == cancel
    call = wire.ForwardedCall(7, "node-b", "app.echo", (1, "ann", "user"))
    assert wire.decode_on_calls(call.encode()) == call


@pytest.mark.parametrize(
    "data",
    [
        wire.msgpack.packb({"i": 1, "o": "n", "s": 2, "x": "explode"}),
        wire.msgpack.packb({"i": 1, "o": "n", "x": "kill"}),
        wire.msgpack.packb({"i": "1", "o": "n", "s": 2, "x": "kill"}),
        wire.msgpack.packb({"i": 1, "o": "n", "u": "p", "c": [1, 2, 3], "p": "yes"}),
        wire.msgpack.packb({"i": 1, "o": "n", "u": "p", "c": [1, 2]}),
        wire.msgpack.packb([1, "n"]),
    ],
)
def test_anything_else_on_the_calls_channel_is_a_wire_error(data):
    with pytest.raises(wire.WireError):
        wire.decode_on_calls(data)


@pytest.mark.parametrize(
    "answer",
    [
        {"i": 1, "a": None, "k": None, "e": None, "p": 1},
        {"i": 1, "a": None, "k": None, "e": "app.error", "p": True},  # an error is never progressive
        {"i": 1, "a": {}, "k": None, "e": None},
    ],
)
def test_an_answer_that_is_not_one_is_a_wire_error(answer):
    with pytest.raises(wire.WireError):
        wire.CallAnswer.decode(wire.msgpack.packb(answer))

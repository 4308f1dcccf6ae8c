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

"""RPC and pub/sub through a real Crossbar node with the demo components in container workers."""

import pytest
from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import uris


@pytest.mark.parametrize("serializer", ["json", "msgpack", "cbor"])
def test_add2_over_every_websocket_serializer(switchboard_hub, serializer):
    with switchboard_hub.client(serializer=serializer) as c:
        assert c.call("demo.add2", 2, 3) == 5
        assert c.call("demo.add2", 1.5, -0.5) == 1.0


@pytest.mark.parametrize("args", [("2", 3), (None, 1), (True, 1), ([1], 2), (1,), ()])
def test_add2_rejects_non_numbers(switchboard_client, args):
    with pytest.raises(ApplicationError) as info:
        switchboard_client.call("demo.add2", *args)
    assert info.value.error == uris.INVALID_ARGUMENT


def test_clock_tick_is_retained_so_a_new_subscriber_sees_it_at_once(switchboard_hub):
    with switchboard_hub.client() as c:
        sub = c.subscribe("clock.tick", get_retained=True)
        first = sub.get(timeout=5)
        assert first.retained, "the first event must be the retained tick, not a wait for the next one"
        later = sub.wait_for(lambda e: not e.retained, timeout=5)
    assert set(first.args[0]) == {"time"} and first.args[0]["time"].endswith("Z")
    assert later.args[0]["time"] > first.args[0]["time"]


def test_chat_post_publishes_the_stamped_message(switchboard_hub):
    with switchboard_hub.client() as alice, switchboard_hub.client() as bob:
        sub = bob.subscribe("chat.room.lobby")
        stored = alice.call("chat.post", "lobby", "  hello bob  ", "alice")
        event = sub.get()
    assert event.args[0] == stored
    assert stored["text"] == "hello bob" and stored["room"] == "lobby"
    assert stored["author"] == {"nick": "alice", "session": alice.session_id, "authid": alice.details.authid}
    assert stored["id"] and stored["time"].endswith("Z")


@pytest.mark.parametrize(
    "args, uri",
    [
        (("Bad Room!", "hi", "ann"), uris.INVALID_ROOM),
        (("lobby", "", "ann"), uris.INVALID_TEXT),
        (("lobby", "x" * 2001, "ann"), uris.TEXT_TOO_LONG),
        (("lobby", "hi", ""), uris.INVALID_NICK),
        (("lobby", "hi", 12), uris.INVALID_NICK),
        (("lobby",), uris.INVALID_TEXT),
    ],
)
def test_chat_post_bad_input_gets_a_specific_error_and_publishes_nothing(switchboard_hub, args, uri):
    with switchboard_hub.client() as c:
        sub = c.subscribe("chat.room.lobby")
        with pytest.raises(ApplicationError) as info:
            c.call("chat.post", *args)
        assert info.value.error == uri
        good = c.call("chat.post", "lobby", "after the bad one", "ann")
        assert sub.get().args[0]["id"] == good["id"], "the rejected post must not have been published"


def test_chat_rooms_lists_active_rooms_most_recent_first(switchboard_client):
    switchboard_client.call("chat.post", "room-a", "one", "ann")
    switchboard_client.call("chat.post", "room-b", "two", "ann")
    rooms = [r["room"] for r in switchboard_client.call("chat.rooms")]
    assert rooms.index("room-b") < rooms.index("room-a")


def test_one_bad_client_does_not_disturb_others(switchboard_hub):
    with switchboard_hub.client() as good, switchboard_hub.client() as bad:
        for _ in range(20):
            with pytest.raises(ApplicationError):
                bad.call("chat.post", "lobby", None, None)
        assert good.call("demo.add2", 20, 22) == 42

"""history.get against a real hub: order, resume points, access control, retention, restarts."""

import threading

import pytest
from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import tickets
from switchboard.bridge.client import HubClient
from switchboard.router import settings as S
from switchboard.router.client import Client
from switchboard.router.testing.hub import Hub


def texts(result):
    return [e["args"][0]["text"] for e in result["events"]]


def test_chat_rooms_keep_history_in_order(switchboard_client):
    for i in range(5):
        switchboard_client.call("chat.post", "history-1", f"m{i}", "ann")
    everything = switchboard_client.call("history.get", "chat.room.history-1")
    assert texts(everything) == ["m0", "m1", "m2", "m3", "m4"] and everything["gap"] is False
    assert [e["position"] for e in everything["events"]] == [1, 2, 3, 4, 5] and everything["last"] == 5
    assert texts(switchboard_client.call("history.get", "chat.room.history-1", since=3)) == ["m3", "m4"]
    assert texts(switchboard_client.call("history.get", "chat.room.history-1", limit=2)) == ["m3", "m4"]
    second = everything["events"][1]["publication"]
    assert texts(switchboard_client.call("history.get", "chat.room.history-1", after_publication=second)) == [
        "m2",
        "m3",
        "m4",
    ]
    unknown = switchboard_client.call("history.get", "chat.room.history-1", after_publication=1)
    assert unknown["gap"] is True and texts(unknown) == ["m0", "m1", "m2", "m3", "m4"]


def test_live_events_carry_the_publication_id_history_knows(switchboard_client):
    sub = switchboard_client.subscribe("chat.room.history-2")
    switchboard_client.call("chat.post", "history-2", "hello", "ann")
    live = sub.get()
    stored = switchboard_client.call("history.get", "chat.room.history-2")["events"][-1]
    assert stored["publication"] is not None and stored["args"] == [live.args[0]]


@pytest.mark.parametrize(
    "kwargs, uri",
    [
        ({}, "switchboard.error.invalid_argument"),
        ({"topic": "chat.room.x", "since": -1}, "switchboard.error.invalid_argument"),
        ({"topic": "chat.room.x", "since": 1, "after_publication": 2}, "switchboard.error.invalid_argument"),
        ({"topic": "chat.room.x", "limit": 0}, "switchboard.error.invalid_argument"),
        ({"topic": "chat.room.x", "limit": 5000}, "switchboard.error.invalid_argument"),
        ({"topic": "chat.room.x", "since": "3"}, "switchboard.error.invalid_argument"),
        ({"topic": "clock.tick"}, "switchboard.error.no_history"),
    ],
)
def test_bad_arguments(switchboard_client, kwargs, uri):
    with pytest.raises(ApplicationError) as info:
        switchboard_client.call("history.get", **kwargs)
    assert info.value.error == uri


def test_history_is_readable_only_where_one_may_subscribe(switchboard_hub):
    with switchboard_hub.backend_client() as backend:
        backend.publish("user.5.notifications", {"text": "for five"})
    five = Client(switchboard_hub.url, switchboard_hub.realm, ticket=tickets.mint(switchboard_hub.ticket_secret, "5"))
    six = Client(switchboard_hub.url, switchboard_hub.realm, ticket=tickets.mint(switchboard_hub.ticket_secret, "6"))
    with five, six, switchboard_hub.client() as anonymous:
        assert texts(five.call("history.get", "user.5.notifications")) == ["for five"]
        for intruder in (six, anonymous):
            with pytest.raises(ApplicationError) as info:
                intruder.call("history.get", "user.5.notifications")
            assert info.value.error == "wamp.error.not_authorized"


def test_retention_bounds_each_topic(switchboard_hub):
    with switchboard_hub.backend_client() as backend:
        for i in range(1010):
            backend.publish("chat.room.retention", {"text": str(i)})
        result = backend.call("history.get", "chat.room.retention", since=0, limit=1000)
    assert result["last"] == 1010 and result["gap"] is True
    assert len(result["events"]) == 1000 and result["events"][0]["args"][0]["text"] == "10"


def mixed_config():
    """The committed config, plus a history-enabled topic that browsers (WebSocket) may publish to."""
    config = S.load_config(S.CONFIG_FILE)
    worker = S.router_worker(config)
    history = next(c for c in worker["components"] if c["id"] == "history")
    history["extra"]["topics"].append({"uri": "mixed.", "match": "prefix"})
    anonymous = next(r for r in worker["realms"][0]["roles"] if r["name"] == "anonymous")
    anonymous["permissions"].append({"uri": "mixed.", "match": "prefix", "allow": {"publish": True, "subscribe": True}})
    return config


def test_concurrent_publishers_stored_in_the_order_subscribers_saw(tmp_path):
    topic = "mixed.events"
    with (
        Hub.started(tmp_path, with_components=False, config=mixed_config()) as hub,
        hub.client() as watcher,
        hub.backend_client() as rawsocket,
        hub.client() as websocket,
        HubClient(hub.bridge_url, hub.bridge_key, hub.bridge_secret) as http,
    ):
        live = watcher.subscribe(topic)
        jobs = [
            lambda: [rawsocket.publish(topic, {"text": f"rs{i}"}) for i in range(40)],
            lambda: [http.publish(topic, {"text": f"http{i}"}) for i in range(40)],
            lambda: [websocket.publish(topic, {"text": f"ws{i}"}) for i in range(40)],
        ]
        threads = [threading.Thread(target=job) for job in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        seen = [live.get().args[0]["text"] for _ in range(120)]
        stored = texts(watcher.call("history.get", topic, since=0, limit=1000))
    assert sorted(seen) == sorted([f"{kind}{i}" for kind in ("rs", "http", "ws") for i in range(40)])
    assert stored == seen


def test_history_survives_a_hub_restart(tmp_path):
    with Hub.started(tmp_path, with_components=False) as hub:
        with hub.backend_client() as backend:
            for i in range(3):
                backend.publish("chat.room.durable", {"text": f"d{i}"})
            assert len(backend.call("history.get", "chat.room.durable")["events"]) == 3
        hub.restart()
        with hub.client() as c:
            result = c.call("history.get", "chat.room.durable")
            assert texts(result) == ["d0", "d1", "d2"] and result["last"] == 3
        with hub.backend_client() as backend:
            backend.publish("chat.room.durable", {"text": "d3"})
            assert backend.call("history.get", "chat.room.durable", since=3)["events"][0]["position"] == 4

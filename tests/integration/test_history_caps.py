"""One anonymous client creating rooms without end: the hub keeps serving, the history store and the
chat room list stay within their caps (bridge/limits.py), and the room in use keeps its history."""

import sqlite3

import pytest
from autobahn.wamp.exception import ApplicationError
from switchboard.router.testing.hub import Hub, wait_until

MAX_TOPICS, MAX_BYTES, MAX_ROOMS = 40, 128 * 1024, 10
CAP_LINE = "history: store at its cap"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    env = {
        "SWITCHBOARD_HISTORY_MAX_TOPICS": str(MAX_TOPICS),
        "SWITCHBOARD_HISTORY_MAX_BYTES": str(MAX_BYTES),
        "SWITCHBOARD_CHAT_MAX_ROOMS": str(MAX_ROOMS),
        "SWITCHBOARD_CALLS_PER_SECOND": "0",
    }  # the caps alone, not the call rate limit, bound the store
    with Hub.started(tmp_path_factory.mktemp("history-caps"), env=env) as hub:
        yield hub


def stored_topics(hub):
    db = sqlite3.connect(f"file:{hub.workdir / 'node' / 'history.sqlite3'}?mode=ro", uri=True)
    try:
        return {t for (t,) in db.execute("SELECT topic FROM topics")}
    finally:
        db.close()


def flood(client, rooms, text, active_texts, every=5):
    """Post once to each new room, and to room `active` every `every` rooms."""
    for n, room in enumerate(rooms):
        client.call("chat.post", room, text, "flood")
        if n % every == 0:
            active_texts.append(f"still here {len(active_texts)}")
            client.call("chat.post", "active", active_texts[-1], "ann")


def test_a_flood_of_new_rooms_evicts_the_idle_ones_and_keeps_the_active_room(hub):
    active = []
    with hub.client() as c:
        flood(c, [f"short-{n}" for n in range(3 * MAX_TOPICS)], "hi", active)
        # history.get queues behind every write (and its eviction) made before it
        result = c.call("history.get", "chat.room.active", since=0, limit=1000)
        topics = stored_topics(hub)
        assert len(topics) <= MAX_TOPICS and "chat.room.active" in topics
        assert "chat.room.short-0" not in topics and f"chat.room.short-{3 * MAX_TOPICS - 1}" in topics
        assert [e["args"][0]["text"] for e in result["events"]] == active
        assert [e["position"] for e in result["events"]] == list(range(1, len(active) + 1))
        assert result["gap"] is False

        # an evicted room: what it had is gone, a client resuming it is told so, and it starts again at 1
        resumed = c.call("history.get", "chat.room.short-0", since=1)
        assert resumed["events"] == [] and resumed["gap"] is True and resumed["last"] == 0
        c.call("chat.post", "short-0", "back", "ann")
        assert c.call("history.get", "chat.room.short-0")["events"][0]["position"] == 1

        # the room list: at most MAX_ROOMS, most recent first, the active room among them
        rooms = c.call("chat.rooms")
        assert len(rooms) == MAX_ROOMS and rooms[0]["room"] == "short-0"
        assert "active" in [r["room"] for r in rooms]
        assert c.call("demo.add2", 2, 3) == 5


def test_long_messages_hit_the_byte_cap_and_the_file_stays_bounded(hub):
    active = []
    path = hub.workdir / "node" / "history.sqlite3"
    with hub.client() as c:
        flood(c, [f"long-{n}" for n in range(120)], "x" * 2000, active)  # about 260 KiB of events
        result = c.call("history.get", "chat.room.active", since=0, limit=1000)
        assert [e["args"][0]["text"] for e in result["events"]][-len(active) :] == active
        assert path.stat().st_size <= MAX_BYTES + 32 * 1024
        topics = stored_topics(hub)
        assert "chat.room.active" in topics and "chat.room.long-119" in topics and "chat.room.long-0" not in topics
        assert c.call("demo.add2", 1, 1) == 2


def test_the_cap_is_logged_once_and_no_post_was_refused(hub):
    wait_until(lambda: CAP_LINE in hub.log_text(), what="the cap's log line")
    log = hub.log_text()
    assert log.count(CAP_LINE) == 1 and log.count("chat: 10 rooms listed") == 1
    assert "Traceback" not in log
    with hub.client() as c:
        for n in range(3):
            c.call("chat.post", f"after-{n}", "still accepted", "ann")
        with pytest.raises(ApplicationError):  # bad input is still refused as before
            c.call("chat.post", "after-0", "", "ann")

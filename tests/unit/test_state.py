from datetime import datetime, timezone

import pytest
from switchboard.components import messages
from switchboard.components.rooms import Rooms
from switchboard.components.roster import Roster, member_id


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def test_iso_utc_has_milliseconds_and_z():
    moment = datetime(2026, 11, 21, 13, 45, 1, 123456, tzinfo=timezone.utc)
    assert messages.iso_utc(moment) == "2026-11-21T13:45:01.123Z"
    assert messages.tick(moment) == {"time": "2026-11-21T13:45:01.123Z"}


def test_chat_message_names_the_router_given_author():
    moment = datetime(2026, 1, 2, tzinfo=timezone.utc)
    msg = messages.chat_message(
        message_id="m1", room="lobby", text="hi", nick="ada", session=7, authid="anon", moment=moment
    )
    assert msg == {
        "id": "m1",
        "room": "lobby",
        "text": "hi",
        "time": "2026-01-02T00:00:00.000Z",
        "author": {"nick": "ada", "session": 7, "authid": "anon"},
    }


def test_rooms_lists_most_recent_first_and_expires_idle_rooms():
    clock = FakeClock()
    rooms = Rooms(clock, idle_seconds=60, max_rooms=10)
    rooms.add("a")
    clock.now += 10
    rooms.add("b")
    assert [r["room"] for r in rooms.active()] == ["b", "a"]
    clock.now += 55  # a idle 65s, b idle 55s
    assert [r["room"] for r in rooms.active()] == ["b"]
    for _ in range(3):
        rooms.add("b")
    assert rooms.active()[0]["messages"] == 4


def test_rooms_are_bounded_by_dropping_the_least_recently_active():
    rooms = Rooms(FakeClock(), max_rooms=3)
    assert [rooms.add(name) for name in "abc"] == [0, 0, 0]
    rooms.add("a")  # a is now the most recent: b goes first
    assert rooms.add("d") == 1
    assert [r["room"] for r in rooms.active()] == ["d", "a", "c"] and len(rooms) == 3


def test_member_identity():
    assert member_id(1, "user", "42", "abcdefgh") == "user:42"
    assert member_id(1, "anonymous", "X", "abcdefgh") == "client:abcdefgh"
    assert member_id(1, "anonymous", "X", None) == "session:1"


def test_roster_join_leave_and_session_end():
    roster = Roster()
    member, changed = roster.join("lobby", 1, "session:1", "ada", None)
    assert changed and member == {"id": "session:1", "nick": "ada", "authid": None}
    assert roster.join("lobby", 1, "session:1", "ada", None)[1] is False  # same again: no event
    roster.join("lobby", 2, "session:2", "Bob", None)
    roster.join("other", 1, "session:1", "ada", None)
    assert [m["nick"] for m in roster.members("lobby")] == ["ada", "Bob"]
    assert roster.leave("lobby", 2)["nick"] == "Bob"
    assert roster.leave("lobby", 2) is None
    assert [room for room, _ in roster.leave_all(1)] == ["lobby", "other"]
    assert roster.members("lobby") == [] and roster.leave_all(1) == []


def test_several_tabs_of_one_person_count_once():
    roster = Roster()
    assert roster.join("lobby", 1, "user:7", "ann", "7")[1] is True
    assert roster.join("lobby", 2, "user:7", "ann", "7")[1] is False  # second tab: no join event
    assert len(roster.members("lobby")) == 1
    assert roster.leave("lobby", 1) is None  # one tab closed: still present
    assert roster.present("lobby", 2) and not roster.present("lobby", 1)
    assert roster.leave_all(2) == [("lobby", {"id": "user:7", "nick": "ann", "authid": "7"})]
    assert roster.members("lobby") == []


def test_roster_limits_rooms_per_session():
    roster = Roster(max_rooms_per_session=2)
    roster.join("a", 1, "m", "x", None)
    roster.join("b", 1, "m", "x", None)
    with pytest.raises(OverflowError):
        roster.join("c", 1, "m", "x", None)
    roster.join("a", 1, "m", "y", None)  # re-joining a room it is in is fine

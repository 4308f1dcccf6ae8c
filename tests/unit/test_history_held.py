"""What a cluster node's history holds while Redis is away (router/services/history_held.py): pure."""

from switchboard.router.services.history_held import Held


def ev(topic: str, n: int) -> tuple:
    return (topic, n, float(n), [n], {})


def test_held_events_come_back_oldest_first_in_chunks():
    held = Held(10)
    assert held.hold([ev("a", 1), ev("b", 2)]) == 0
    held.hold([ev("a", 3)])
    assert len(held) == 3 and held
    assert held.take(2) == ({}, [ev("a", 1), ev("b", 2)])
    assert held.take(2) == ({}, [ev("a", 3)])
    assert not held and held.take() == ({}, [])


def test_past_its_bound_the_oldest_are_dropped_and_counted_as_holes_per_topic():
    held = Held(2)
    assert held.hold([ev("a", 1), ev("b", 2), ev("a", 3), ev("a", 4)]) == 2
    assert held.holes == {"a": 1, "b": 1} and held.dropped == 2
    assert held.take() == ({"a": 1, "b": 1}, [ev("a", 3), ev("a", 4)])
    assert held.holes == {}


def test_what_could_not_be_written_goes_back_first_with_its_holes():
    held = Held(3)
    held.hold([ev("a", 1), ev("a", 2), ev("a", 3), ev("a", 4)])
    holes, events = held.take(2)
    held.hold([ev("a", 5)])
    assert held.put_back(holes, events) == 1  # 4 held again: the oldest goes
    assert held.take() == ({"a": 2}, [ev("a", 3), ev("a", 4), ev("a", 5)])


def test_a_hold_of_nothing_keeps_only_holes():
    held = Held(0)
    assert held.hold([ev("a", 1)]) == 1
    assert held and len(held) == 0 and held.take() == ({"a": 1}, [])

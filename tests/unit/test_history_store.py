import pytest
from switchboard.router.services.history_policy import HistoryPolicy, Retention


def test_positions_are_per_topic_and_survive_reopening(open_store):
    store = open_store()
    events = [("a", 11, 1.0, [1], {}), ("b", 12, 1.0, [2], {}), ("a", 13, 2.0, [3], {"k": 1})]
    assert store.append_many(events) == [1, 1, 2]
    store = open_store()
    assert store.append_many([("a", 14, 3.0, [4], {})]) == [3]
    assert [(e.position, e.args, e.kwargs) for e in store.read("a")] == [(1, [1], {}), (2, [3], {"k": 1}), (3, [4], {})]
    assert [e.position for e in store.read("a", after=1, limit=1)] == [2]
    assert store.position_of("a", 13) == 2 and store.position_of("a", 99) is None


def test_trim_by_count_and_age_keeps_positions_growing(open_store):
    store = open_store()
    store.append_many([("t", i, float(i), [i], {}) for i in range(1, 11)])
    assert store.trim("t", max_events=5, min_published=0) == 5
    assert [e.position for e in store.read("t")] == [6, 7, 8, 9, 10]
    assert store.trim("t", max_events=5, min_published=8.0) == 2
    assert store.first_position("t") == 8
    assert store.append_many([("t", 11, 11.0, [], {})]) == [11]


def test_quick_trim_looks_for_old_events_only_when_the_oldest_is_old(open_store):
    store = open_store()
    # times grow with positions, but event 3 was stamped after the clock stepped back
    store.append_many([("t", i, t, [i], {}) for i, t in enumerate([10.0, 11.0, 1.0, 12.0], start=1)])
    assert store.trim("t", max_events=3, min_published=5.0, quick=True) == 1  # the count: event 1
    assert [e.position for e in store.read("t")] == [2, 3, 4]  # oldest (11.0) is recent: 3 waits
    assert store.trim("t", max_events=3, min_published=5.0) == 1  # the periodic full trim finds it
    assert [e.position for e in store.read("t")] == [2, 4]
    assert store.trim("t", max_events=3, min_published=11.5, quick=True) == 1  # oldest old: trimmed
    assert [e.position for e in store.read("t")] == [4]


def test_the_event_count_for_metrics_follows_every_write_and_delete(open_store):
    store = open_store()
    store.append_many(
        [("a", i, float(i), [i], {}) for i in range(10)] + [("b", 99, 1.0, [], {}), ("c", 98, 1.0, [], {})]
    )
    assert store.events == store.count() == 12
    store.trim("a", max_events=4, min_published=0, quick=True)
    store.trim("a", max_events=4, min_published=8.0)
    assert store.events == store.count() == 4
    store.drop(["b"])
    assert store.events == store.count() == 3
    store.evict(max_topics=1, max_bytes=1 << 30)
    assert store.events == store.count() and store.bytes == store.used_bytes() > 0
    assert open_store().events == 2


def test_policy_exact_beats_prefix_and_longest_prefix_wins():
    policy = HistoryPolicy(
        [
            {"uri": "chat.", "match": "prefix", "max_events": 10},
            {"uri": "chat.room.", "match": "prefix", "max_events": 20},
            {"uri": "chat.room.vip", "max_events": 30},
        ]
    )
    assert policy.retention("chat.room.vip").max_events == 30
    assert policy.retention("chat.room.x").max_events == 20
    assert policy.retention("chat.other").max_events == 10
    assert policy.retention("clock.tick") is None
    assert isinstance(policy.retention("chat.x"), Retention)


@pytest.mark.parametrize(
    "rule",
    [
        {"uri": "", "match": "prefix"},
        {"uri": "a", "match": "wildcard"},
        {"uri": "a", "max_events": 0},
        {"uri": "a", "max_age": -1},
    ],
)
def test_policy_rejects_bad_rules(rule):
    with pytest.raises(ValueError):
        HistoryPolicy([rule])

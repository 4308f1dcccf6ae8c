"""bench/outage_tally.py: what one subscriber got around an outage, counted from the records."""

from bench.outage_tally import Published, first_at_or_after, tally


def test_lost_duplicated_out_of_order_and_resume_are_counted_by_when_they_were_published():
    published = [Published(seq, float(seq), acked=seq != 7) for seq in range(10)]  # outage: [3, 6)
    received = [(0.1, 0), (1.1, 1), (2.1, 2), (3.1, 3), (6.5, 5), (6.6, 4), (6.7, 4), (8.1, 8)]
    t = tally(published, received, down=3.0, up=6.0)
    assert t["published_during_outage"] == 3 and t["acked"] == 9
    assert t["received"] == 7 and t["duplicated"] == 1 and t["out_of_order"] == 1
    assert (t["lost"], t["lost_published_before"], t["lost_published_during"], t["lost_published_after"]) == (
        2, 0, 0, 2,
    )  # fmt: skip
    assert t["outage_events_delivered_during_outage"] == 1 and t["outage_events_delivered_after_redis_back"] == 2
    assert t["longest_silence_during_outage_ms"] == 2900.0
    assert t["first_delivery_after_redis_back_ms"] == 500.0
    assert t["first_fresh_event_after_redis_back_ms"] == 2100.0


def test_nothing_received_after_redis_back_says_none():
    t = tally([Published(0, 0.0, True)], [(0.1, 0)], down=1.0, up=2.0)
    assert t["first_delivery_after_redis_back_ms"] is None and t["lost"] == 0


def test_first_accepted_at_or_after():
    assert first_at_or_after([(1.0, True), (2.5, False), (3.0, True)], 2.0) == 1.0
    assert first_at_or_after([(1.0, True)], 2.0) is None

"""`switchboard status`'s rates (router/node/commands.py): per second between two reads of /metrics,
summed over labels or for the labels asked, and from 0 when the router restarted in between."""

from switchboard.router.node.commands import RATES, rates_between


def test_rates_per_second_over_labels_and_from_zero_after_a_restart():
    sent = "switchboard_messages_sent_total"
    before = {
        sent: [({"type": "event"}, 10.0), ({"type": "result"}, 4.0)],
        "switchboard_messages_received_total": [({"type": "call"}, 100.0)],
    }
    after = {
        sent: [({"type": "event"}, 30.0), ({"type": "result"}, 8.0)],
        "switchboard_messages_received_total": [({"type": "call"}, 6.0)],  # a new router since
    }
    rates = rates_between(before, after, 2.0)
    assert set(rates) == set(RATES)
    assert rates["deliveries"] == 10.0 and rates["messages_out"] == 12.0
    assert rates["messages_in"] == 3.0
    assert rates["calls"] == rates["bridge_requests"] == 0.0

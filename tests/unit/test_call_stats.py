"""The calls /metrics counts (router/services/call_stats.py): the procedure label set stays bounded
whatever clients call or register, outcomes are a fixed set, and the latency histogram is cumulative."""

from __future__ import annotations

from switchboard.bridge import uris
from switchboard.router.services import call_stats
from switchboard.router.services.call_stats import OTHER, CallStats


def test_only_registration_uris_become_labels_and_only_up_to_the_cap():
    stats = CallStats(max_procedures=2)
    for i, uri in enumerate(["demo.add2", "chat.", "demo.add2", "x.one", "x.two", None]):
        stats.received((1, i), 0)
        stats.answered((1, i), uri, call_stats.RESULT, 1000)
    assert stats.counts == {("demo.add2", "result"): 2, ("chat.", "result"): 1, (OTHER, "result"): 3}
    assert set(stats.histograms) == {"demo.add2", "chat.", OTHER}  # None (a refusal) is not timed
    assert len(stats._labels) == 2  # procedures past the cap are not remembered either


def test_a_refused_call_counts_under_other_by_its_refusal_and_unknown_uris_as_refused():
    assert call_stats.outcome_of_error(uris.NO_SUCH_PROCEDURE, routed=False) == "no_such_procedure"
    assert call_stats.outcome_of_error(uris.WAMP_NOT_AUTHORIZED, routed=False) == "not_authorized"
    assert call_stats.outcome_of_error("x.error." + "y" * 100, routed=False) == call_stats.REFUSED
    assert call_stats.outcome_of_error("app.error.whatever", routed=True) == call_stats.ERROR
    assert call_stats.outcome_of_error(uris.CANCELED, routed=True) == call_stats.CANCELED
    every = {call_stats.outcome_of_error(u, r) for u in [*call_stats.REFUSALS, "a.b", uris.CANCELED] for r in (0, 1)}
    assert every <= set(call_stats.OUTCOMES)


def test_durations_fall_in_cumulative_buckets_with_their_sum():
    stats = CallStats(max_procedures=10)
    for i, took_ns in enumerate([50_000, 100_000, 2_000_000, 20_000_000_000]):  # 50 µs, 100 µs (on a bound), 2 ms, 20 s
        stats.received((7, i), 1_000)
        stats.answered((7, i), "p", call_stats.RESULT, 1_000 + took_ns)
    buckets, total = stats.buckets("p")
    as_dict = dict(buckets)
    assert as_dict["0.0001"] == 2 and as_dict["0.001"] == 2 and as_dict["0.0025"] == 3 and as_dict["10.0"] == 3
    assert buckets[-1] == ("+Inf", 4) and len(buckets) == len(call_stats.BOUNDS) + 1
    assert abs(total - 20.00215) < 1e-9
    assert stats.pending == {}


def test_a_caller_that_leaves_takes_its_calls_in_flight_with_it():
    stats = CallStats(max_procedures=10)
    stats.received((1, 1), 0)
    stats.received((1, 2), 0)
    stats.received((2, 1), 0)
    stats.forget_session(1)
    assert list(stats.pending) == [(2, 1)]
    stats.answered((1, 1), "p", call_stats.RESULT, 10)  # an answer nobody timed still counts, untimed
    assert stats.counts == {("p", "result"): 1} and "p" not in stats.histograms

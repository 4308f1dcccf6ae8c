"""router/node/layout_choice.py: the candidates, the capacity a measurement implies, the choice with
its margin, and the saved answer holding only for the machine it was measured on."""

import json

import pytest
from switchboard.router.node import layout_choice as C


@pytest.mark.parametrize(
    "cores, expected", [(1, (0,)), (2, (0, 2)), (3, (0, 3)), (4, (0, 2, 4)), (8, (0, 4, 8)), (16, (0, 8, 16))]
)
def test_the_candidates_are_none_one_per_core_and_half_that_from_four_cores(cores, expected):
    assert C.candidates(cores) == expected


def test_the_candidates_stay_within_the_most_proxy_workers_a_node_runs():
    assert C.candidates(256) == (0, 64)
    assert C.candidates(8, most=3) == (0, 3)


def test_capacity_is_bound_by_the_busiest_process_and_by_all_cores():
    # the router alone: 1000 units in 0.5 CPU s -> 2000/s on its one core (the cores bound is 4000/s)
    assert C.Phase("rpc", 1000, 1.0, {"router": 0.5}).capacity(2) == pytest.approx(2000)
    # spread over three processes: none is the limit, the two cores are: 2 * 1000 / 1.5
    spread = C.Phase("rpc", 1000, 1.0, {"router": 0.5, "proxy1": 0.5, "proxy2": 0.5})
    assert spread.capacity(2) == pytest.approx(1333.33, rel=1e-3)
    assert spread.capacity(8) == pytest.approx(2000)


def test_nothing_done_or_no_cpu_read_is_no_capacity():
    assert C.Phase("rpc", 0, 1.0, {"router": 0.5}).capacity(2) is None
    assert C.Phase("rpc", 10, 1.0, {"router": 0.0}).capacity(2) is None


def phases(fanout_cpu: dict, rpc_cpu: dict) -> list[C.Phase]:
    return [C.Phase("fanout", 10_000, 2.0, fanout_cpu), C.Phase("rpc", 2_000, 2.0, rpc_cpu)]


ALONE = phases({"router": 1.0}, {"router": 1.0, "echo": 0.2})


def test_proxies_that_take_the_routers_work_over_many_cores_are_chosen():
    # 8 cores: the router does a quarter of its work alone, the proxies the rest
    spread = {"router": 0.25, **{f"proxy{i}": 0.2 for i in range(8)}}
    choice = C.choose({0: ALONE, 8: phases(spread, {**spread, "echo": 0.2})}, 8)
    assert choice.proxies == 8 and choice.scores[8] > C.MARGIN and choice.scores[0] == 1.0


def test_proxies_that_cost_more_than_they_spread_on_two_cores_are_not():
    spread = {"router": 0.6, "proxy1": 0.7, "proxy2": 0.7}
    choice = C.choose({0: ALONE, 2: phases(spread, {**spread, "echo": 0.2})}, 2)
    assert choice.proxies == 0 and choice.scores[2] < 1


def test_a_gain_within_the_margin_keeps_no_proxies():
    slightly = phases({"router": 0.95}, {"router": 0.95, "echo": 0.2})  # about 5% better
    choice = C.choose({0: ALONE, 2: slightly}, 2)
    assert 1 < choice.scores[2] < C.MARGIN and choice.proxies == 0


def test_a_candidate_that_did_nothing_scores_none_and_is_not_chosen():
    choice = C.choose({0: ALONE, 2: phases({"router": 1.0}, {"router": 0.0})}, 2)
    assert choice.scores[2] is None and choice.proxies == 0
    assert "2 proxies failed" in C.summary(choice)


def test_the_summary_names_every_other_candidate_with_its_score():
    choice = C.Choice(0, {0: 1.0, 1: 0.5, 2: 0.7245, 4: 1.05}, 4)
    assert C.summary(choice) == (
        "on this machine's 4 cores, capacity against no proxies: 1 proxy 0.50, 2 proxies 0.72, 4 proxies 1.05"
    )
    assert C.describe(0) == "one router worker, no proxies"
    assert C.describe(3) == "3 proxy worker(s) in front of the router"


PRINT = C.fingerprint(2, "AMD EPYC", {"crossbar": "26.10.1", "switchboard-hub": "0.1.0"}, False)


def test_a_saved_choice_round_trips_through_json_for_the_same_machine():
    measured = {0: ALONE, 2: ALONE}
    choice = C.choose(measured, 2)
    saved = json.loads(json.dumps(C.to_json(choice, PRINT, measured, "2026-12-03 11:00:00 UTC")))
    again = C.from_json(saved, PRINT)
    assert again == C.Choice(choice.proxies, choice.scores, 2)
    assert saved["phases"]["0"][1] == {
        "load": "rpc",
        "units": 2000,
        "seconds": 2.0,
        "cpu": {"router": 1.0, "echo": 0.2},
    }


@pytest.mark.parametrize(
    "other",
    [
        C.fingerprint(4, "AMD EPYC", {"crossbar": "26.10.1", "switchboard-hub": "0.1.0"}, False),
        C.fingerprint(2, "Intel Xeon", {"crossbar": "26.10.1", "switchboard-hub": "0.1.0"}, False),
        C.fingerprint(2, "AMD EPYC", {"crossbar": "26.11.0", "switchboard-hub": "0.1.0"}, False),
        C.fingerprint(2, "AMD EPYC", {"crossbar": "26.10.1", "switchboard-hub": "0.1.0"}, True),
        {**PRINT, "format": C.FORMAT + 1},
    ],
)
def test_a_saved_choice_for_another_machine_release_or_tls_setting_is_not_taken(other):
    saved = C.to_json(C.choose({0: ALONE}, 2), PRINT, {0: ALONE}, "then")
    assert C.from_json(saved, other) is None


@pytest.mark.parametrize(
    "saved",
    [
        {},
        {"fingerprint": PRINT},
        {"fingerprint": PRINT, "proxies": "x", "scores": {}},
        {"fingerprint": PRINT, "proxies": 3, "scores": {"0": 1.0, "2": 0.5}},  # not a candidate measured
        {"fingerprint": PRINT, "proxies": -3, "scores": {"0": 1.0, "-3": 2.0}},
        {"fingerprint": PRINT, "proxies": 999, "scores": {"0": 1.0, "999": 2.0}},
    ],
)
def test_a_damaged_saved_choice_is_measured_again(saved):
    assert C.from_json(saved, PRINT) is None

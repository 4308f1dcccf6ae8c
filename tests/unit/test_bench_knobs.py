"""bench.knobs and the django_publish parameters built on it: defaults < environment < flags."""

from bench import knobs
from bench.params import QUICK, Params, parse


def test_convert_reads_bools_tuples_and_numbers():
    assert knobs.convert("yes", bool) is True and knobs.convert("0", bool) is False
    assert knobs.convert("100, 1000", tuple) == (100, 1000)
    assert knobs.convert("sb_publish,ch_group_send", tuple) == ("sb_publish", "ch_group_send")
    assert knobs.convert("2.5", float) == 2.5 and knobs.convert("7", int) == 7


def test_django_publish_defaults_environment_and_flags_layer_in_that_order():
    assert parse([], env={}) == Params()
    params = parse(
        ["--events", "50", "--note", "quiet machine"],
        env={"BENCH_EVENTS": "900", "BENCH_ROUNDS": "4", "BENCH_SCENARIOS": "sb_publish"},
    )
    assert params.events == 50 and params.rounds == 4 and params.scenarios == ("sb_publish",)
    assert params.notes == ("quiet machine",)


def test_django_publish_quick_comes_first_and_the_rest_still_overrides_it():
    params = parse(["--quick", "--rounds", "2"], env={})
    assert params.quick and params.events == QUICK["events"] and params.rounds == 2

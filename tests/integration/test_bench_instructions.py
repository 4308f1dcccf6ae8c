"""bench.router_instructions on one hub, small: the router worker runs under callgrind, the counted
windows hold the calls and publishes made in them, and two windows of the same work count nearly
the same, and the broker's publication counting per subscription is on in the hub the bench measures
with counting and off in the one without. Keeps the benchmark runnable; its numbers mean nothing at this size."""

import pytest

from bench import router_instructions

#: the router under valgrind, and the bench extras: `make bench-smoke`, not `make test`
pytestmark = pytest.mark.bench


@pytest.mark.parametrize(
    ("system", "publications"), [("switchboard", router_instructions.WARMUP + 2 * 50), ("sb_no_metrics", 0)]
)
def test_the_router_s_instructions_are_counted_per_call_and_per_event(tmp_path, system, publications):
    counted = router_instructions.measure(system, calls=50, repeat=2, workdir=tmp_path)
    assert counted["publications_counted"] == publications  # what SWITCHBOARD_METRICS=0 switches off
    for key in ("per_call", "per_event"):
        first, second = counted[key]
        assert 10_000 < first < 10_000_000, counted  # a call or event costs the router some 10^5 instructions
        assert abs(first - second) / first < 0.2, counted

"""bench.router_instructions on one hub, small: the router worker runs under callgrind, the counted
windows hold the calls and publishes made in them, and two windows of the same work count nearly
the same. Keeps the benchmark runnable; its numbers mean nothing at this size."""

import pytest

from bench import router_instructions

#: the router under valgrind, and the bench extras: `make bench-smoke`, not `make test`
pytestmark = pytest.mark.bench


def test_the_router_s_instructions_are_counted_per_call_and_per_event(tmp_path):
    counted = router_instructions.measure("switchboard", calls=50, repeat=2, workdir=tmp_path)
    for key in ("per_call", "per_event"):
        first, second = counted[key]
        assert 10_000 < first < 10_000_000, counted  # a call or event costs the router some 10^5 instructions
        assert abs(first - second) / first < 0.2, counted

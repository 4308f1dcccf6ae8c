"""History and the bridge's call timer run on an injected clock: age retention, the cap's paced log
line and a bridged call's timeout, driven by twisted.internet.task.Clock instead of waiting. Each case
runs in a fresh interpreter on Twisted (tests/unit/clock_cases.py)."""

import pytest

from tests.fresh_python import run_python


@pytest.mark.parametrize("case", ["aged_out", "cap_line", "call_timeout"])
def test_on_the_clock(case, tmp_path):
    run_python(["-m", "tests.unit.clock_cases", case, str(tmp_path)])

"""The supervisor's restart policy: growing backoff, a reset after a stable run, a crash loop named."""

import pytest
from switchboard.router.node.supervisor import CrashLoop, RestartPolicy, describe_exit


def test_backoff_doubles_up_to_its_cap():
    policy = RestartPolicy(max_quick_crashes=10, first_delay=0.5, max_delay=4)
    assert [policy.crashed(1.0, "x") for _ in range(6)] == [0.5, 1, 2, 4, 4, 4]


def test_a_stable_run_resets_the_count():
    policy = RestartPolicy(max_quick_crashes=2, stable_after=60)
    policy.crashed(1.0, "x")
    policy.crashed(None, "start failed")
    assert policy.crashed(61.0, "x") == policy.first_delay  # not a crash loop: it served a while


def test_quick_crashes_in_a_row_are_a_crash_loop_that_names_the_last_one():
    policy = RestartPolicy(max_quick_crashes=2)
    policy.crashed(1.0, "x")
    policy.crashed(1.0, "x")
    with pytest.raises(CrashLoop, match=r"3 times in a row.*last: worker 'router' \(pid 7\) died"):
        policy.crashed(1.0, "worker 'router' (pid 7) died")


def test_restart_limit_from_the_environment():
    assert RestartPolicy.from_env({}).max_quick_crashes == 5
    assert RestartPolicy.from_env({"SWITCHBOARD_RESTART_LIMIT": "20"}).max_quick_crashes == 20
    with pytest.raises(ValueError, match="SWITCHBOARD_RESTART_LIMIT='0'"):
        RestartPolicy.from_env({"SWITCHBOARD_RESTART_LIMIT": "0"})


def test_exits_are_described_by_signal_name():
    assert describe_exit(-9) == "was killed by SIGKILL"
    assert describe_exit(1) == "exited with code 1"

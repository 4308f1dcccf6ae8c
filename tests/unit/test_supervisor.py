"""The supervisor's restart policy: growing backoff, a reset after a stable run, a crash loop named."""

import time

import pytest
from switchboard.router import settings as S
from switchboard.router.node.process import NodeError
from switchboard.router.node.supervisor import CrashLoop, RestartPolicy, Supervisor, describe_exit


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


class FakeNode:
    """A node whose starts fail while `failures` lasts; it records the restarts each start was given."""

    def __init__(self, failures: int):
        self.extra_env, self.failures, self.given = {}, failures, []

    def start(self):
        self.given.append(self.extra_env.get(S.ENV_RESTARTS))
        if self.failures:
            self.failures -= 1
            raise NodeError("port in use")


def test_each_restart_hands_the_new_node_the_restarts_so_far_by_cause(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)  # the backoff
    node = FakeNode(failures=1)
    supervisor = Supervisor(node, policy=RestartPolicy(first_delay=0), log=lambda line: None)
    supervisor._cause = "worker:router"
    supervisor._restart("worker 'router' (pid 7) died", uptime=1.0)
    supervisor._cause = "controller"
    supervisor._restart("the node controller (pid 6) was killed by SIGKILL", uptime=1.0)
    given = [S.restarts_of({S.ENV_RESTARTS: g}) for g in node.given]
    assert given == [
        {"worker:router": 1},
        {"worker:router": 1, "failed_start": 1},
        {"worker:router": 1, "failed_start": 1, "controller": 1},
    ]
    assert supervisor.restarts == 3


def test_the_restarts_a_worker_reads_are_only_what_the_supervisor_writes():
    assert S.restarts_of({}) == {}
    assert S.restarts_of({S.ENV_RESTARTS: '{"worker:router": 2, "x": -1, "y": "3", "z": true}'}) == {"worker:router": 2}
    assert S.restarts_of({S.ENV_RESTARTS: "not json"}) == S.restarts_of({S.ENV_RESTARTS: "[1]"}) == {}

"""Supervision: `switchboard run` (router/node/supervisor.py) brings the hub back, with no person, after a
kill -9 of the router worker, of each container worker and of the node controller; it says so in
one line; acknowledged chat history survives a router kill; Ctrl-C still stops everything."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import urllib3
from prometheus_client.parser import text_string_to_metric_families
from switchboard.router import settings as S
from switchboard.router.node.process import group_processes
from switchboard.router.node.supervisor import ENV_RESTART_LIMIT
from switchboard.router.testing.hub import wait_until

from tests.hub_process import START_TIMEOUT, RunningHub

SERVING_AGAIN = "hub is serving again"


class Supervised(RunningHub):
    """`switchboard run` in a temp dir, allowed the restarts this module causes."""

    def __init__(self, workdir: Path):
        super().__init__(workdir, cwd=S.PROJECT_ROOT, env={ENV_RESTART_LIMIT: "20"})  # killed 8 times in a row

    def kill_and_wait(self, pid: int) -> list[str]:
        """kill -9 `pid`, wait for the supervisor to report the hub serving again; its new lines."""
        before = len(self.lines())
        os.kill(pid, signal.SIGKILL)
        wait_until(
            lambda: self.alive() and any(SERVING_AGAIN in line for line in self.lines()[before:]),
            timeout=START_TIMEOUT,
            interval=0.2,
            what="the hub serving again",
        )
        return self.lines()[before:]

    def assert_serving(self) -> None:
        """What a new browser session does: call demo.add2 and chat.post, get clock ticks."""
        with self.client() as c:
            ticks = c.subscribe("clock.tick")
            assert c.call("demo.add2", 2, 3) == 5
            assert c.call("chat.post", "lobby", "still here", "ann")["text"] == "still here"
            assert "time" in ticks.get(timeout=10).args[0]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    supervised = Supervised(tmp_path_factory.mktemp("supervised"))
    try:
        yield supervised
    finally:
        supervised.close()


def assert_one_clear_line(lines: list[str], expected: str) -> None:
    about = [line for line in lines if expected in line]
    assert len(about) == 1 and "restarting the hub" in about[0], lines
    assert all(line.startswith("switchboard: ") for line in lines), lines
    assert not [line for line in lines if "Traceback" in line], lines


@pytest.mark.parametrize("worker", ["router", "demo", "clock", "chat", "presence"])
def test_a_killed_worker_is_back_within_seconds(hub, worker):
    hub.assert_serving()
    pid = hub.worker_pid(worker)
    lines = hub.kill_and_wait(pid)
    assert_one_clear_line(lines, f"worker {worker!r} (pid {pid}) died")
    assert hub.worker_pid(worker) != pid
    hub.assert_serving()


def test_a_killed_controller_leaves_no_orphan_and_is_back(hub):
    controller = hub.controller().pid
    lines = hub.kill_and_wait(controller)
    assert_one_clear_line(lines, f"the node controller (pid {controller}) was killed by SIGKILL")
    assert group_processes(controller) == [], "a worker of the killed controller survived it"
    assert hub.controller().pid != controller
    hub.assert_serving()


def test_acknowledged_chat_history_survives_a_router_kill(hub):
    room, n = "durable", 50
    with hub.client() as c:
        posted = [c.call("chat.post", room, f"message {i}", "ann")["id"] for i in range(n)]
    hub.kill_and_wait(hub.worker_pid("router"))
    with hub.client() as c:
        events = c.call("history.get", f"chat.room.{room}", limit=1000)["events"]
    stored = [e["args"][0]["id"] for e in events]
    lost = [i for i in posted if i not in stored]
    assert not lost, f"{len(lost)} of {n} acknowledged chat messages lost by a router kill -9"
    assert stored[-n:] == posted


def restarts(hub) -> dict[str, float]:
    """switchboard_restarts_total by cause, from the hub's /metrics."""
    response = urllib3.request("GET", f"http://127.0.0.1:{hub.port}/{S.METRICS_PATH}", timeout=10, retries=False)
    assert response.status == 200
    return {
        sample.labels["cause"]: sample.value
        for family in text_string_to_metric_families(response.data.decode())
        for sample in family.samples
        if sample.name == "switchboard_restarts_total"
    }


def test_metrics_count_the_restarts_since_switchboard_run_started_by_cause(hub):
    before = restarts(hub)
    assert sum(before.values()) == sum("restarting the hub" in line for line in hub.lines())
    assert before.get("worker:router", 0) >= 1 and before.get("controller", 0) >= 1
    hub.kill_and_wait(hub.worker_pid("demo"))
    after = restarts(hub)  # a new router process: its counters began at 0, this one did not
    assert after == {**before, "worker:demo": before.get("worker:demo", 0) + 1}


def test_ctrl_c_stops_it_all(hub):
    controller = hub.controller().pid
    assert hub.stop() == 0
    assert hub.lines()[-1] == "switchboard: stopped."
    assert not [line for line in hub.lines() if "Traceback" in line]
    assert group_processes(controller) == []

"""Supervision: `switchboard run` (router/node/supervisor.py) brings the hub back, with no person, after a
kill -9 of the router worker, of each container worker and of the node controller; it says so in
one line; acknowledged chat history survives a router kill; Ctrl-C still stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from switchboard.router import settings as S
from switchboard.router.client import Client
from switchboard.router.node.process import free_port, group_processes, worker_id_of
from switchboard.router.node.secrets import ensure_secrets
from switchboard.router.node.supervisor import ENV_RESTART_LIMIT
from switchboard.router.testing.hub import wait_until

#: Starting a node takes 4 s on an idle machine, far longer on a busy shared one.
START_TIMEOUT = 180
SERVING_AGAIN = "hub is serving again"


class Supervised:
    """One `python -m switchboard.router run` process in a temp dir on free ports; crossbar's output
    and the supervisor's own lines (stderr) kept in separate files."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port, self.backend_port = free_port(), free_port()
        self.secrets_file = workdir / "secrets.env"
        self.out_path, self.err_path = workdir / "crossbar.log", workdir / "supervisor.log"
        env = {**os.environ, S.ENV_PORT: str(self.port), S.ENV_BACKEND_PORT: str(self.backend_port),
               S.ENV_SECRETS_FILE: str(self.secrets_file), S.ENV_LOGLEVEL: "info",
               ENV_RESTART_LIMIT: "20"}  # this module kills it 8 times in a row
        for name in (S.ENV_BACKEND_SECRET, S.ENV_BRIDGE_SECRET, S.ENV_TICKET_SECRET):
            env.pop(name, None)  # the hub generates its own into secrets_file
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            command = [sys.executable, "-m", "switchboard.router", "run", "--dir", str(workdir / "node")]
            self.process = subprocess.Popen(command, cwd=S.PROJECT_ROOT, env=env, stdout=out, stderr=err,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: self._alive() and "hub is up" in self.out_path.read_text(errors="replace"),
                   timeout=START_TIMEOUT, interval=0.2, what="switchboard run up")
        self.backend_secret = ensure_secrets(self.secrets_file)[0][S.ENV_BACKEND_SECRET]

    def _alive(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"switchboard run exited with {self.process.returncode}: {self.lines()}")
        return True

    def lines(self) -> list[str]:
        return self.err_path.read_text(errors="replace").splitlines()

    def controller(self) -> psutil.Process:
        (child,) = psutil.Process(self.process.pid).children()
        return child

    def worker_pid(self, worker_id: str) -> int:
        for proc in self.controller().children():
            if worker_id_of(proc.cmdline()) == worker_id:
                return proc.pid
        raise LookupError(worker_id)

    def kill_and_wait(self, pid: int) -> list[str]:
        """kill -9 `pid`, wait for the supervisor to report the hub serving again; its new lines."""
        before = len(self.lines())
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: self._alive() and any(SERVING_AGAIN in line for line in self.lines()[before:]),
                   timeout=START_TIMEOUT, interval=0.2, what="the hub serving again")
        return self.lines()[before:]

    def client(self) -> Client:
        return Client(f"ws://127.0.0.1:{self.port}/ws", "switchboard")

    def backend_client(self) -> Client:
        return Client(f"rs://127.0.0.1:{self.backend_port}", "switchboard", authid=S.BACKEND_AUTHID,
                      secret=self.backend_secret)

    def assert_serving(self) -> None:
        """What a new browser session does: call demo.add2 and chat.post, get clock ticks."""
        with self.client() as c:
            ticks = c.subscribe("clock.tick")
            assert c.call("demo.add2", 2, 3) == 5
            assert c.call("chat.post", "lobby", "still here", "ann")["text"] == "still here"
            assert "time" in ticks.get(timeout=10).args[0]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        return self.process.returncode


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    supervised = Supervised(tmp_path_factory.mktemp("supervised"))
    try:
        yield supervised
    finally:
        if supervised.process.poll() is None:
            controller = supervised.controller().pid
            supervised.stop()
            for proc in group_processes(controller):
                proc.kill()


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


def test_ctrl_c_stops_it_all(hub):
    controller = hub.controller().pid
    assert hub.stop() == 0
    assert hub.lines()[-1] == "switchboard: stopped."
    assert not [line for line in hub.lines() if "Traceback" in line]
    assert group_processes(controller) == []

"""A `switchboard run` process, as a user starts it: in its own process group, on free ports, its
crossbar output and the supervisor's own lines (stderr) in separate files of its hub directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
from switchboard.router import settings as S
from switchboard.router.client import Client
from switchboard.router.node.process import free_port, group_processes, worker_id_of
from switchboard.router.node.secrets import ensure_secrets
from switchboard.router.testing.hub import wait_until

#: Starting a node takes 4 s on an idle machine, far longer on a busy shared one.
START_TIMEOUT = 180


class RunningHub:
    """`switchboard run --dir hub_dir`, by `command` (default: this interpreter's module), from `cwd`;
    ports free unless the hub directory's config gives them (`ports=False`)."""

    def __init__(
        self,
        hub_dir: Path,
        *,
        command: list[str] | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        ports: bool = True,
        wait: bool = True,
    ):
        self.hub_dir = Path(hub_dir)
        self.hub_dir.mkdir(parents=True, exist_ok=True)
        self.port, self.backend_port = (free_port(), free_port()) if ports else (None, None)
        self.secrets_file = self.hub_dir / S.SECRETS_NAME
        self.out_path, self.err_path = self.hub_dir / "crossbar.log", self.hub_dir / "supervisor.log"
        # no layout measurement unless a test asks for it (SWITCHBOARD_PROXY_WORKERS=auto)
        environ = {**os.environ, S.ENV_LOGLEVEL: "info", S.ENV_PROXY_WORKERS: "0", **(env or {})}
        if ports:
            environ.update({S.ENV_PORT: str(self.port), S.ENV_BACKEND_PORT: str(self.backend_port)})
        for name in (S.ENV_BACKEND_SECRET, S.ENV_BRIDGE_SECRET, S.ENV_TICKET_SECRET, S.ENV_SECRETS_FILE, S.ENV_DIR):
            environ.pop(name, None)  # the hub generates its own secrets into its directory
        command = command or [sys.executable, "-m", "switchboard.router"]
        with open(self.out_path, "ab") as out, open(self.err_path, "ab") as err:
            self.process = subprocess.Popen(
                [*command, "run", "--dir", str(self.hub_dir)],
                cwd=cwd or self.hub_dir,
                env=environ,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        if wait:
            self.wait_up()

    def wait_up(self) -> None:
        wait_until(
            lambda: self.alive() and "hub is up" in self.out_path.read_text(errors="replace"),
            timeout=START_TIMEOUT,
            interval=0.2,
            what="switchboard run up",
        )
        if self.port is None:
            settings = S.Settings.from_env({S.ENV_DIR: str(self.hub_dir)})
            self.port, self.backend_port = settings.port, settings.backend_port
        self.backend_secret = ensure_secrets(self.secrets_file, env={})[0][S.ENV_BACKEND_SECRET]

    def alive(self) -> bool:
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

    def client(self) -> Client:
        return Client(f"ws://127.0.0.1:{self.port}/ws", "switchboard")

    def backend_client(self) -> Client:
        return Client(
            f"rs://127.0.0.1:{self.backend_port}", "switchboard", authid=S.BACKEND_AUTHID, secret=self.backend_secret
        )

    def stop(self) -> int:
        """Ctrl-C, as a person stops it; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        return self.process.returncode

    def close(self) -> None:
        """stop(), and kill whatever is left of the node's process group (a test's teardown)."""
        try:
            controller = self.controller().pid if self.process.poll() is None else None
        except (ValueError, psutil.Error):
            controller = None
        self.stop()
        for proc in group_processes(controller) if controller else ():
            proc.kill()

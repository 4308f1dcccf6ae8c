"""Keep the hub serving with no person: restart the Crossbar node whenever its controller or a worker dies.

Crossbar 26.10.1 restarts neither a dead worker process nor itself. With the controller's
"shutdown_on_worker_exit" trigger (.crossbar/config.json) the node exits as soon as any worker
ends, so a dead router never leaves it "up and deaf"; this loop notices the death (of a worker or
of the controller itself), kills what is left of the node's process group (an orphaned worker
would keep the ports) and starts the node again after a short backoff. Quick crashes in a row end
it with a non-zero exit that names the problem, for systemd or a container runtime to take over.

Each start after the first gets the restarts so far, by cause, in SWITCHBOARD_RESTARTS (the router
process is new, so its own counters begin at 0): /metrics gives them as switchboard_restarts_total.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

from switchboard.bridge.retry import backoff
from switchboard.router import settings as S
from switchboard.router.node.process import STOP_TIMEOUT, Node, NodeError

ENV_RESTART_LIMIT = "SWITCHBOARD_RESTART_LIMIT"


class CrashLoop(RuntimeError):
    """The hub kept dying right after (re)starts: restarting it again would not help."""


@dataclass
class RestartPolicy:
    """Backoff between restarts, and when quick crashes in a row count as a crash loop."""

    max_quick_crashes: int = 5  # give up after this many quick crashes in a row
    stable_after: float = 60.0  # a node that served this long before dying resets the count
    first_delay: float = 0.5
    max_delay: float = 8.0

    def __post_init__(self):
        self._quick = 0

    @classmethod
    def from_env(cls, env=os.environ) -> "RestartPolicy":
        """SWITCHBOARD_RESTART_LIMIT: quick crashes in a row before giving up (default 5)."""
        raw = env.get(ENV_RESTART_LIMIT, "")
        if not raw:
            return cls()
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"{ENV_RESTART_LIMIT}={raw!r} is not a whole number >= 1")
        return cls(max_quick_crashes=int(raw))

    def crashed(self, uptime: float | None, reason: str) -> float:
        """Record a crash after `uptime` seconds of serving (None: it never came up); the delay before
        the next start, or CrashLoop."""
        self._quick = 1 if uptime is not None and uptime >= self.stable_after else self._quick + 1
        if self._quick > self.max_quick_crashes:
            raise CrashLoop(
                f"the hub died {self._quick} times in a row, each within {self.stable_after:g} s of "
                f"starting (last: {reason}); giving up"
            )
        return backoff(self._quick - 1, self.first_delay, self.max_delay)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def say(message: str) -> None:
    print(f"switchboard: {message}", file=sys.stderr, flush=True)


class Supervisor:
    """Runs `node` until interrupted (Ctrl-C, SIGTERM), restarting it whenever part of it dies."""

    def __init__(
        self,
        node: Node,
        *,
        policy: RestartPolicy | None = None,
        on_up: Callable[[], None] = lambda: None,
        log: Callable[[str], None] = say,
    ):
        self.node = node
        self.policy = policy or RestartPolicy()
        self.on_up = on_up
        self.log = log
        self.restarts = 0
        #: restarts by what died: "worker:<id>", "controller", or "failed_start" (a restart that did not come up)
        self.causes: dict[str, int] = {}
        self._cause = "controller"

    def run(self) -> int:
        """0 when stopped, 130 when interrupted while starting, 1 when the first start fails or on a crash loop."""
        try:
            self.node.start()
        except NodeError as e:
            self.log(str(e))
            return 1
        except KeyboardInterrupt:
            self.node.stop()
            return 130
        self.on_up()
        try:
            while True:
                started = time.monotonic()
                reason = self.watch()
                self.node.kill()
                self._restart(reason, uptime=time.monotonic() - started)
        except CrashLoop as e:
            self.log(str(e))
            self.node.stop()
            return 1
        except KeyboardInterrupt:
            self.node.stop()
            self.log("stopped.")
            return 0

    def _restart(self, reason: str, uptime: float | None) -> None:
        """Start the node again after the policy's delay, retrying a start that fails."""
        while True:
            delay = self.policy.crashed(uptime, reason)
            self.restarts += 1
            self.causes[self._cause] = self.causes.get(self._cause, 0) + 1
            self.node.extra_env[S.ENV_RESTARTS] = json.dumps(self.causes, sort_keys=True)
            self.log(f"{reason}; restarting the hub in {delay:g} s (restart {self.restarts})")
            time.sleep(delay)  # backoff, not synchronisation
            began = time.monotonic()
            try:
                self.node.start()
            except NodeError as e:
                reason, uptime = f"restart {self.restarts} failed ({e})", None
                self._cause = "failed_start"
                continue
            self.log(f"hub is serving again, {time.monotonic() - began:.1f} s after restart {self.restarts} began")
            return

    def watch(self) -> str:
        """Block until the controller or one of the workers is gone; say which, once the node has exited."""
        controller = self.node.process
        workers = self.node.worker_pids()
        dead = _wait_any(
            {controller.pid: "the node controller", **{pid: f"worker {wid!r}" for wid, pid in workers.items()}}
        )
        if dead[0] == controller.pid:
            self._cause = "controller"
            return f"the node controller (pid {controller.pid}) {describe_exit(controller.wait())}"
        self._cause = next((f"worker:{wid}" for wid, pid in workers.items() if pid == dead[0]), "controller")
        try:  # crossbar's trigger shuts the rest of the node down in order (the router flushes, sessions close)
            controller.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass  # killed with its group by the caller
        return f"{dead[1]} (pid {dead[0]}) died"


def _wait_any(processes: dict[int, str]) -> tuple[int, str]:
    """Block until one of `processes` ({pid: name}) has exited; (pid, name) of the first found gone."""
    if not hasattr(os, "pidfd_open"):  # not Linux: poll
        return _poll_any(processes)
    fds: dict[int, int] = {}
    try:
        for pid, name in processes.items():
            try:
                fds[os.pidfd_open(pid)] = pid
            except ProcessLookupError:
                return pid, name
        ready, _, _ = select.select(list(fds), [], [])
        pid = fds[ready[0]]
        return pid, processes[pid]
    finally:
        for fd in fds:
            os.close(fd)


def _poll_any(processes: dict[int, str]) -> tuple[int, str]:
    import psutil  # installed with crossbar

    watched = []
    for pid, name in processes.items():
        try:
            watched.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            return pid, name
    while True:
        gone, _ = psutil.wait_procs(watched, timeout=0.5)
        for proc in gone:
            return proc.pid, processes[proc.pid]
        for proc in watched:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return proc.pid, processes[proc.pid]

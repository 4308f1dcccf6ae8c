"""Faults: a component that loses its session comes back; a dead component process stops the node
(never up with a part missing); a standalone component reconnects after the hub restarts; the start
log is clean."""

import os
import re
import signal
import subprocess
import sys

from switchboard.router.testing.hub import Hub, wait_until

# A clean start: nothing at warn level or above, no tracebacks, no deprecation chatter.
UNCLEAN = re.compile(r"traceback|warn|error|exception|deprecat|fail", re.IGNORECASE)


def callee_session(backend, procedure):
    registration = backend.call("wamp.registration.lookup", procedure)
    return registration and backend.call("wamp.registration.list_callees", registration)[0]


def test_component_comes_back_after_its_session_is_killed(switchboard_hub):
    with switchboard_hub.backend_client() as backend, switchboard_hub.client() as user:
        before = callee_session(backend, "chat.post")
        backend.call("wamp.session.kill", before, reason="switchboard.test.kill")
        after = wait_until(
            lambda: (s := callee_session(backend, "chat.post")) and s != before and s,
            timeout=30,
            what="chat component re-registered",
        )
        assert after != before
        assert user.call("chat.post", "lobby", "back again", "ann")["text"] == "back again"
        assert user.call("demo.add2", 1, 1) == 2


def test_a_dead_component_process_stops_the_node_until_restarted(tmp_path):
    """A worker that dies ends the whole node (shutdown_on_worker_exit), so it is never up with a part
    missing; `switchboard run` then restarts it (test_supervision.py), a bare Hub waits for restart()."""
    with Hub.started(tmp_path) as hub:
        start_log = hub.log_text()
        assert not [line for line in start_log.splitlines() if UNCLEAN.search(line)], "the start log must be clean"
        chat = hub.component_pid("chat.post")
        assert hub.worker_pid("chat") == chat
        with hub.client() as user:
            assert user.call("demo.add2", 2, 2) == 4
            os.kill(chat, signal.SIGKILL)
            user.wait_closed(timeout=30)  # the router goes down with the node
        assert hub.node.process.wait(30) != 0
        assert "Node worker chat ended with error" in hub.log_text()
        hub.restart()
        with hub.client() as user:
            assert user.call("chat.post", "lobby", "back", "ann")["text"] == "back"
            assert user.call("demo.add2", 3, 3) == 6


def test_standalone_component_reconnects_after_hub_restart(tmp_path):
    with Hub.started(tmp_path, with_components=False) as hub:
        proc = subprocess.Popen(
            [sys.executable, "-m", "switchboard.components.demo"],
            env=hub.backend_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:

            def add2_works():
                with hub.client() as c:
                    return c.call("demo.add2", 2, 3) == 5

            wait_until(add2_works, timeout=30, what="standalone demo.add2 registered")
            hub.restart()
            wait_until(add2_works, timeout=30, what="standalone demo.add2 back after the restart")
            assert proc.poll() is None, "the standalone component must survive the hub restart"
        finally:
            proc.terminate()
            proc.wait(10)

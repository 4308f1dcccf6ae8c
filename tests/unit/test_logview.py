"""switchboard.router.node.logview: which of Crossbar's records a node logging at info prints, and
the JSON line format. It imports Crossbar (which selects Twisted for txaio while this test process
runs the asyncio client), so the checks run in a fresh interpreter, as the node controller would."""

import json

from switchboard.router.node import logline

from tests.fresh_python import run_code

RECORDS = """
from twisted.logger import LogLevel
from switchboard.router.node import logview

def record(text, namespace, level=LogLevel.info, relayed=True, **extra):
    key = "cb_namespace" if relayed else "log_namespace"
    return {"log_level": level, "log_format": text, key: namespace, "log_system": "Router   42", **extra}
"""


def test_crossbars_start_up_records_are_shown_at_debug_only_and_switchboards_own_at_info():
    run_code(
        RECORDS
        + """
view = logview.View()
hidden = [
    record("Crossbar.io v26 banner", "crossbar.node.main", relayed=False),
    record("Starting router-worker", "__main__._run_command_exec_worker"),
    record("Native worker ready!", "switchboard.router.node.workers.RouterWorker"),
    record("Starting factory", "switchboard.router.patches.connlimit.PerAddressFactory"),
    record("Site starting on 8080", "log_legacy"),
    record("session joined", "autobahn.wamp.protocol"),
    record("", "stdout", relayed=False),  # the empty line Crossbar prints after its banner
]
shown = [
    record("history: 2 rule(s)", "switchboard.router.services.history"),
    record("component Demo ready", "switchboard.components.base"),
    record("my component's own line", "myapp.components.Orders"),
    record("a line printed by a guest", "FD1"),
    record("Node worker chat ended with error (exit 9)", "crossbar.node.controller.NodeController", relayed=False),
    record("now restarting previously closed component demo", "switchboard.router.node.workers.ContainerWorker"),
    record("failing WebSocket connection (code=1002)", "autobahn.websocket.protocol", level=LogLevel.warn),
    record("Native worker ready!", "crossbar.worker.router", level=LogLevel.error),
]
assert [view.shown(e) for e in hidden] == [False] * len(hidden)
assert [view.shown(e) for e in shown] == [True] * len(shown)
"""
    )


def test_after_a_stop_was_asked_for_crossbars_shutdown_noise_is_not_shown():
    run_code(
        RECORDS
        + """
view = logview.View()
lost = record("Lost connection to component 'demo' uncleanly", "switchboard.router.node.workers.ContainerWorker",
              level=LogLevel.error)
assert view.shown(lost)  # before a stop: a crash, shown
stop = record("Controller received SIGINT [signal=2]: shutting down node", "crossbar.node.controller.NodeController",
              level=LogLevel.warn, relayed=False)
assert view.shown(stop) and view.stopping
assert not view.shown(lost)
assert not view.shown(record("component Demo ready", "switchboard.components.base"))  # restarted as it stops
assert not view.shown(record("Cancelling 1 outstanding requests", "switchboard.components.clock.Clock"))
assert not view.shown(record("cannot detach session \\"1\\": session not currently attached",
                             "crossbar.router.session.RouterApplicationSession", level=LogLevel.warn))
assert view.shown(record("history: store closed with an error", "switchboard.router.services.history",
                         level=LogLevel.error))
"""
    )


def test_a_json_line_has_time_level_process_namespace_and_message_without_colours():
    run_code(
        RECORDS
        + """
import json
from twisted.python.failure import Failure
line = json.loads(logview.json_line(record("\\x1b[33mrouter\\x1b[0m {what}", "crossbar.worker", what="up",
                                           log_time=1764662400.25)))
assert line == {"time": "2025-12-02T08:00:00.250Z", "level": "info", "system": "Router 42",
                "namespace": "crossbar.worker", "message": "router up"}, line
try:
    1 / 0
except ZeroDivisionError:
    failure = Failure()
line = json.loads(logview.json_line(record("it broke", "myapp", level=LogLevel.error, log_failure=failure)))
assert line["level"] == "error" and line["message"].startswith("it broke\\n") and "ZeroDivisionError" in line["message"]
"""
    )


def test_the_lines_switchboard_run_prints_itself_follow_the_format():
    assert logline.own_line("hub is up", "text") == "switchboard: hub is up"
    line = json.loads(logline.own_line("hub is up", "json"))
    assert (line["level"], line["namespace"], line["message"]) == ("info", "switchboard.run", "hub is up")
    assert line["system"].startswith("switchboard ") and line["time"].endswith("Z")

"""The connections workload measures sessions the server still holds. Crossbar pings every client
and drops one whose pong does not come in time; opening 10,000 sessions takes longer than that, so
the load generator reads each session from the moment it opens (as a browser does), and the bench
counts the sessions on the server's side when it reads the server's memory."""

import json
import subprocess
import sys
import time

import psutil
import pytest
from switchboard.router import settings as S
from switchboard.router.testing.hub import Hub

from bench.peers_servers import LOADGEN_LIMITS
from bench.procstat import established

#: needs the bench extras (the peers, their load generator): `make bench-smoke`, not `make test`
pytestmark = pytest.mark.bench

#: pings this often (ms), and drops a session whose pong is this late (Crossbar's least: 1000)
PING_MS = 1000
#: opened one at a time, which takes longer than a ping period and its timeout together (1,500 took
#: 2.1 s once the attach and detach log records went to debug: too few)
SESSIONS = 3000


def _node_pids(hub: Hub) -> list[int]:
    node = psutil.Process(hub.node.process.pid)
    return [node.pid, *(p.pid for p in node.children(recursive=True))]


def test_sessions_survive_the_servers_pings_while_the_others_open(tmp_path):
    config = S.load_config(S.CONFIG_FILE)
    S.transport(config, S.WEB_TRANSPORT_ID)["paths"]["ws"]["options"].update(
        auto_ping_interval=PING_MS, auto_ping_timeout=PING_MS
    )
    with Hub.started(tmp_path, with_components=False, config=config, env=LOADGEN_LIMITS) as hub:
        cfg = {
            "protocol": "wamp_msgpack",
            "compress": 0,
            "url": hub.url,
            "realm": hub.realm,
            "topic": "bench.x",
            "workload": "connections",
            "connections": SESSIONS,
            "parallel": 1,
            "timeout": 120,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.peers_loadgen", json.dumps(cfg)],
            cwd=S.PROJECT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            line = proc.stdout.readline()
            assert line.startswith("HOLDING "), line
            opened = json.loads(line[len("HOLDING ") :])
            # the first sessions were open for longer than a ping and its timeout before the last one
            assert opened["seconds"] > 2.2 * PING_MS / 1000, opened
            time.sleep(3 * PING_MS / 1000)  # the scenario, not a wait for an event: idle for three pings
            held = established(_node_pids(hub), hub.settings.port)
            out, _ = proc.communicate("DONE\n", timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    result = json.loads(out.split("RESULT ", 1)[1])
    assert opened["opened"] == opened["open_when_opened"] == SESSIONS, opened
    assert held == SESSIONS
    assert result["still_open_at_measurement"] == SESSIONS, result

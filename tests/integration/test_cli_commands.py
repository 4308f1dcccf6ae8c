"""The CLI against a running hub (`switchboard run --dir`), with the secrets that hub generated:
publish, call, subscribe, ticket and status do what they say, and every failure is one line on stderr
naming the problem, with its exit code (router/node/commands.py: 1 refused, 2 usage, 3 unavailable)."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading

import pytest
import urllib3
from switchboard.bridge import tickets
from switchboard.router import settings as S
from switchboard.router.client import Client
from switchboard.router.node import commands
from switchboard.router.node.process import free_port
from switchboard.router.testing.hub import wait_until

from tests.hub_process import START_TIMEOUT, RunningHub

SWITCHBOARD = [sys.executable, "-m", "switchboard.router"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    running = RunningHub(tmp_path_factory.mktemp("cli") / "hub")
    try:
        yield running
    finally:
        running.close()


def env_of(hub: RunningHub) -> dict:
    """The environment a person has in a shell beside that hub: its directory and ports, no secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env.update({S.ENV_DIR: str(hub.hub_dir), S.ENV_PORT: str(hub.port), S.ENV_BACKEND_PORT: str(hub.backend_port)})
    return env


def sb(hub: RunningHub, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SWITCHBOARD, *args],
        env=env or env_of(hub),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def failed(result: subprocess.CompletedProcess, code: int, command: str) -> str:
    """The one stderr line of a failed command, checked for its exit code and form."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"switchboard {command}: "), result.stderr
    assert result.stdout == ""
    return lines[0]


def test_publish_reaches_a_subscriber_with_args_and_kwargs(hub):
    with hub.client() as c:
        sub = c.subscribe("chat.room.cli")
        result = sb(hub, "publish", "chat.room.cli", '{"text": "hi"}', "7", "--kwargs", '{"room": "cli"}', "--json")
        assert result.returncode == 0, result.stderr
        event = sub.get()
    assert event.args == ({"text": "hi"}, 7) and event.kwargs == {"room": "cli"}
    published = json.loads(result.stdout)
    assert published["duplicate"] is False and published["id"]


def test_publish_retain_keeps_the_event_for_later_subscribers(hub):
    assert sb(hub, "publish", "chat.room.retained", '"kept"', "--retain").returncode == 0
    with hub.client() as c:
        assert c.subscribe("chat.room.retained", get_retained=True).get().args == ("kept",)


def test_call_prints_the_result_as_json(hub):
    result = sb(hub, "call", "demo.add2", "2", "3")
    assert (result.returncode, result.stdout) == (0, "5\n"), result.stderr


def test_call_errors_name_the_problem_with_their_exit_code(hub):
    line = failed(sb(hub, "call", "nope.missing"), commands.EXIT_REFUSED, "call")
    assert "wamp.error.no_such_procedure" in line
    line = failed(sb(hub, "call", "demo.add2", "2", '"x"'), commands.EXIT_REFUSED, "call")
    assert "error" in line and "[HTTP 4" in line
    line = failed(sb(hub, "call", "demo.add2", "two", "3"), commands.EXIT_USAGE, "call")
    assert "argument 1 ('two') is not JSON" in line and "'\"two\"'" in line
    line = failed(sb(hub, "call", "demo.add2", "--kwargs", "[1]"), commands.EXIT_USAGE, "call")
    assert "--kwargs must be a JSON object" in line


def test_arguments_the_hub_cannot_carry_are_refused_in_one_line(hub):
    # a keyword named like the client's own parameter reaches the procedure (which refuses it)
    line = failed(sb(hub, "call", "demo.add2", "1", "2", "--kwargs", '{"timeout": 1}'), commands.EXIT_REFUSED, "call")
    assert "HTTP 4" in line or "error" in line
    line = failed(sb(hub, "publish", "chat.room.x", "NaN"), commands.EXIT_USAGE, "publish")
    assert "NaN" in line
    line = failed(sb(hub, "call", "demo.add2", "1", "2", "--url", "ftp://hub/bridge/"), commands.EXIT_USAGE, "call")
    assert "--url" in line
    line = failed(sb(hub, "status", "--url", "http://127.0.0.1/"), commands.EXIT_USAGE, "status")
    assert "--url" in line


def test_the_hub_is_found_from_its_directory_alone(hub):
    """A shell with only --dir (no port variables) reaches a hub that runs on ports of its own."""
    bare = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    result = sb(hub, "call", "--dir", str(hub.hub_dir), "demo.add2", "2", "2", env=bare)
    assert (result.returncode, result.stdout) == (0, "4\n"), result.stderr


def test_publish_refusals_are_usage_errors(hub):
    line = failed(sb(hub, "publish", "wamp.session.x", "1"), commands.EXIT_USAGE, "publish")
    assert "reserved for the router" in line
    line = failed(sb(hub, "publish", "bad topic"), commands.EXIT_USAGE, "publish")
    assert "not a valid topic URI" in line


def test_a_hub_that_is_down_or_a_directory_without_secrets_is_unavailable(hub, tmp_path):
    closed = f"http://127.0.0.1:{free_port()}/bridge/"
    line = failed(sb(hub, "call", "demo.add2", "1", "2", "--url", closed), commands.EXIT_UNAVAILABLE, "call")
    assert "hub unavailable" in line and closed in line
    line = failed(sb(hub, "status", "--url", f"rs://127.0.0.1:{free_port()}"), commands.EXIT_UNAVAILABLE, "status")
    assert "hub unavailable" in line
    nowhere = {**env_of(hub), S.ENV_DIR: str(tmp_path)}
    line = failed(sb(hub, "publish", "chat.room.x", "1", env=nowhere), commands.EXIT_UNAVAILABLE, "publish")
    assert str(tmp_path / S.SECRETS_NAME) in line and "--dir" in line


def test_a_ticket_signs_a_browser_session_in_as_that_user(hub):
    result = sb(hub, "ticket", "--user", "cli-user", "--ttl", "30", "--json")
    assert result.returncode == 0, result.stderr
    minted = json.loads(result.stdout)
    with Client(f"ws://127.0.0.1:{hub.port}/ws", "switchboard", ticket=minted["ticket"]) as c:
        assert (c.details.authid, c.details.authrole) == ("cli-user", "user")
    plain = sb(hub, "ticket", "--user", "7")
    claims = tickets.verify(_ticket_secret(hub), plain.stdout.strip())
    assert claims["sub"] == "7" and claims["exp"] - claims["iat"] == tickets.DEFAULT_TTL
    line = failed(sb(hub, "ticket", "--user", "not one word"), commands.EXIT_USAGE, "ticket")
    assert "ticket sub" in line


def test_an_admin_ticket_signs_in_with_role_admin_and_comes_as_a_dashboard_link(hub):
    link = sb(hub, "ticket", "--user", "ops", "--role", "admin").stdout.strip()
    dashboard, _, ticket = link.partition("#ticket=")
    assert dashboard == f"http://127.0.0.1:{hub.port}/{S.DASHBOARD_PATH}"
    with Client(f"ws://127.0.0.1:{hub.port}/ws", "switchboard", ticket=ticket) as c:
        assert (c.details.authid, c.details.authrole) == ("ops", "admin")
    assert json.loads(sb(hub, "ticket", "--user", "7", "--json").stdout)["role"] == "user"
    assert "invalid choice" in sb(hub, "ticket", "--user", "7", "--role", "backend").stderr


def _ticket_secret(hub: RunningHub) -> str:
    from switchboard.router.node.secrets import read_secrets

    return read_secrets(hub.secrets_file, env={})[S.ENV_TICKET_SECRET]


def test_status_gives_the_hubs_rates_from_its_metrics(hub):
    with hub.client() as browser:
        ticks = browser.subscribe("clock.tick")  # the clock publishes every second: rates are not 0
        ticks.get(timeout=10)
        result = sb(hub, "status", "--json", "--interval", "2.5")
        text = sb(hub, "status", "--interval", "0.5")
        quiet = sb(hub, "status", "--json", "--interval", "0")
    assert result.returncode == 0, result.stderr
    rates = json.loads(result.stdout)["rates"]
    assert set(rates) == {"interval", *commands.RATES} and rates["interval"] >= 2.5
    assert rates["messages_in"] > 0 and rates["deliveries"] > 0 and rates["messages_out"] >= rates["deliveries"]
    assert "rates over " in text.stdout and "deliveries" in text.stdout  # over 0.5 s, and a scrape
    assert json.loads(quiet.stdout)["rates"] is None
    bad = sb(hub, "status", "--interval", "-1")
    assert bad.returncode == 2 and "must be 0 or more" in bad.stderr


#: a component whose setup never returns, so it never counts as ready
STUCK = """
from switchboard.components.base import BackendSession
from twisted.internet.defer import Deferred


class Stuck(BackendSession):
    async def setup(self, details):
        await Deferred()
"""


def test_status_exits_1_while_a_component_has_not_finished_its_setup(tmp_path):
    config = S.load_config(S.CONFIG_FILE)
    demo = next(w for w in config["workers"] if w.get("id") == "demo")
    stuck = json.loads(json.dumps(demo))
    stuck["id"] = stuck["components"][0]["id"] = "stuck"
    stuck["components"][0]["classname"] = "stuck.Stuck"
    config["workers"].append(stuck)
    home = tmp_path / "hub"
    home.mkdir()
    (home / S.HUB_CONFIG_NAME).write_text(json.dumps(config), encoding="utf-8")
    (home / "stuck.py").write_text(STUCK, encoding="utf-8")
    starting = RunningHub(home, wait=False)  # never "up": one component never becomes ready
    try:
        expected = S.container_components(config)

        def not_ready():
            result = sb(starting, "status", "--json", "--interval", "0")
            if result.returncode == commands.EXIT_UNAVAILABLE:
                return None  # not listening yet, or no secrets yet
            status = json.loads(result.stdout)
            return result if status["components"]["ready"] == expected - 1 else None

        result = wait_until(not_ready, timeout=START_TIMEOUT, interval=0.5, what="every other component ready")
        assert result.returncode == commands.EXIT_REFUSED
        assert json.loads(result.stdout)["ready"] is False
        text = sb(starting, "status", "--interval", "0")
        assert text.returncode == commands.EXIT_REFUSED
        assert f"NOT READY ({expected - 1} of {expected} components ready)" in text.stdout
    finally:
        starting.close()


def test_status_gives_readiness_sessions_topics_and_registrations(hub):
    with hub.client() as browser:
        browser.subscribe("chat.room.status")
        result = sb(hub, "status", "--json")
        text = sb(hub, "status")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["ready"] is True and status["components"]["ready"] == status["components"]["expected"] > 0
    assert status["sessions"]["by_role"]["anonymous"] == 1
    assert {"uri": "demo.add2", "match": "exact", "callees": 1} in status["registrations"]
    assert any(t["uri"] == "chat.room.status" and t["subscribers"] == 1 for t in status["topics"])
    assert not any(t["uri"].startswith("wamp.") for t in status["topics"])
    assert text.returncode == 0 and text.stdout.startswith(f"hub rs://127.0.0.1:{hub.backend_port} realm switchboard")
    assert "ready (" in text.stdout and "demo.add2: 1 callees" in text.stdout


def test_subscribe_prints_history_then_live_events_as_json_lines_until_interrupted(hub):
    for text in ("one", "two", "three"):
        assert sb(hub, "publish", "chat.room.tail", json.dumps({"text": text})).returncode == 0
    proc = subprocess.Popen(
        [*SWITCHBOARD, "subscribe", "chat.room.tail", "--history", "2"],
        env=env_of(hub),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        stored = [json.loads(lines.get(timeout=60)) for _ in range(2)]
        assert [e["args"][0]["text"] for e in stored] == ["two", "three"]
        assert all(e["history"] and e["topic"] == "chat.room.tail" for e in stored)
        assert sb(hub, "publish", "chat.room.tail", '{"text": "live"}').returncode == 0
        live = json.loads(lines.get(timeout=30))
        assert live["args"] == [{"text": "live"}] and live["history"] is False and live["publication"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        assert proc.stderr.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_hub_on_ipv6_loopback_prints_bracketed_urls_that_reach_it(tmp_path):
    """SWITCHBOARD_HOST=::1: Crossbar listens on the IPv6 loopback, and every URL `switchboard run`
    prints, and those the CLI builds from the config the hub rendered, are `[::1]:PORT` and work."""
    v6 = RunningHub(tmp_path / "hub", env={S.ENV_HOST: "::1"})
    try:
        port = v6.port
        up = next(line for line in v6.out_path.read_text().splitlines() if "hub is up" in line)
        page = re.search(r"Open (\S+) ", up).group(1)
        urls = dict(re.findall(r"(WAMP|readiness|metrics|dashboard): (\S+?)[,;]", up))
        assert page == f"http://[::1]:{port}/", up
        assert urls == {
            "WAMP": f"ws://[::1]:{port}/ws",
            "readiness": f"http://[::1]:{port}/ready",
            "metrics": f"http://[::1]:{port}/metrics",
            "dashboard": f"http://[::1]:{port}/admin.html",
        }, up
        http = urllib3.PoolManager(retries=False, timeout=10)
        assert b"autobahn" in http.request("GET", page).data.lower()
        assert http.request("GET", urls["readiness"]).json()["status"] == "ready"
        assert http.request("GET", urls["metrics"]).status == 200  # ::1 is loopback: open
        assert b"admin.js" in http.request("GET", urls["dashboard"]).data
        with Client(urls["WAMP"], "switchboard") as browser:
            assert browser.call("demo.add2", 2, 3) == 5
        # the CLI, from the hub directory alone: the bridge and /metrics at [::1], found in the rendered config
        bare = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        bare[S.ENV_DIR] = str(v6.hub_dir)
        called = sb(v6, "call", "demo.add2", "20", "22", env=bare)
        assert (called.returncode, called.stdout) == (0, "42\n"), called.stderr
        explicit = sb(v6, "publish", "chat.room.v6", "1", "--url", f"http://[::1]:{port}/bridge/", env=bare)
        assert explicit.returncode == 0, explicit.stderr
        status = sb(v6, "status", "--json", "--interval", "0.2", env=bare)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["rates"]["interval"] >= 0.2  # /metrics read at http://[::1]:PORT/metrics
        link = sb(v6, "ticket", "--user", "ops", "--role", "admin", env=bare).stdout
        assert link.startswith(f"http://[::1]:{port}/{S.DASHBOARD_PATH}#ticket=")
    finally:
        v6.close()

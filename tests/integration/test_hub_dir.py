"""Hub directories: `switchboard init DIR` writes a config and a component skeleton that `switchboard
check` accepts and `switchboard run --dir DIR` runs, from any directory; two hubs run side by side,
each with its secrets, node directory and databases under its own directory; a second hub started in
a running hub's directory is refused before it touches anything there."""

from __future__ import annotations

import subprocess
import sys

import pytest
from autobahn.wamp.exception import ApplicationError
from switchboard.router import settings as S
from switchboard.router.node.process import free_port

from tests.hub_process import RunningHub

SWITCHBOARD = [sys.executable, "-m", "switchboard.router"]


def switchboard(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SWITCHBOARD, *args], cwd=cwd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


@pytest.fixture(scope="module")
def two_hubs(tmp_path_factory):
    """Two `switchboard init` directories on ports of their own, both running, started from a
    directory outside the repository."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    hubs = []
    try:
        for name in ("one", "two"):
            hub_dir = elsewhere / name
            result = switchboard(
                "init", str(hub_dir), "--port", str(free_port()), "--backend-port", str(free_port()), cwd=elsewhere
            )
            assert result.returncode == 0, result.stderr
            hubs.append(RunningHub(hub_dir, cwd=elsewhere, ports=False))
        yield hubs
    finally:
        for hub in hubs:
            hub.close()


def test_init_writes_a_config_that_check_accepts(tmp_path):
    result = switchboard("init", str(tmp_path / "hub"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert {p.name for p in (tmp_path / "hub").iterdir()} == {"config.json", "components", ".gitignore"}
    assert "switchboard run --dir" in result.stdout
    check = switchboard("check", "--dir", str(tmp_path / "hub"), cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "configuration looks good" in check.stdout


def test_init_refuses_a_directory_that_has_a_config(tmp_path):
    assert switchboard("init", str(tmp_path), cwd=tmp_path).returncode == 0
    again = switchboard("init", str(tmp_path), "--port", "8090", cwd=tmp_path)
    assert again.returncode != 0
    expected = f"switchboard: {tmp_path / 'config.json'} exists already: init writes a new hub directory"
    assert again.stderr.strip() == expected
    bad_port = switchboard("init", str(tmp_path / "other"), "--port", "70000", cwd=tmp_path)
    assert bad_port.returncode != 0 and "--port 70000 is outside 1..65535" in bad_port.stderr
    assert not (tmp_path / "other").exists()


def test_each_hub_runs_its_own_component_from_its_own_directory(two_hubs):
    for hub in two_hubs:
        with hub.client() as c:
            assert c.call("greeter.hello", "ann") == "hello ann"
            with pytest.raises(ApplicationError) as refused:
                c.call("greeter.hello", 42)
            assert refused.value.error == "switchboard.error.invalid_argument"
            assert c.call("demo.add2", 2, 3) == 5  # the default components come with it


def test_each_hub_keeps_its_secrets_node_and_databases_in_its_directory(two_hubs):
    one, two = two_hubs
    assert one.port != two.port
    for hub in two_hubs:
        assert hub.secrets_file.is_file()
        node = hub.hub_dir / S.NODE_DIR_NAME
        assert {"config.json", "history.sqlite3", "replay.sqlite3"} <= {p.name for p in node.iterdir()}
    assert one.backend_secret != two.backend_secret
    with one.client() as c:
        c.call("chat.post", "lobby", "only on one", "ann")
    with two.client() as c:
        texts = [e["args"][0]["text"] for e in c.call("history.get", "chat.room.lobby", limit=100)["events"]]
    assert "only on one" not in texts


def test_a_second_hub_in_a_running_hubs_directory_is_refused_untouched(two_hubs, tmp_path):
    one = two_hubs[0]
    rendered = one.hub_dir / S.NODE_DIR_NAME / "config.json"
    before = rendered.read_bytes()
    second = RunningHub(one.hub_dir, cwd=tmp_path, wait=False)  # other (free) ports: only the directory clashes
    try:
        assert second.process.wait(120) != 0
    finally:
        second.close()
    assert "another hub" in second.out_path.read_text(errors="replace") + "\n".join(second.lines())
    assert rendered.read_bytes() == before
    with one.client() as c:
        assert c.call("greeter.hello", "still") == "hello still"

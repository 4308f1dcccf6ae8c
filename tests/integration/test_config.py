"""The committed node config is valid as Crossbar itself sees it, and the CLI names bad settings."""

import subprocess
import sys


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "switchboard.router", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_crossbar_check_passes():
    result = run_cli("check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "node configuration looks good" in result.stdout


def test_bad_port_is_a_clear_cli_error():
    import os

    result = run_cli("check", env={**os.environ, "SWITCHBOARD_PORT": "eighty"})
    assert result.returncode != 0
    assert "SWITCHBOARD_PORT='eighty' is not a port number" in result.stderr
    assert "Traceback" not in result.stderr

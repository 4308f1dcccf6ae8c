"""docs/deploy/'s systemd unit and nginx site hold what docs/deploy.md promises: the unit runs
`switchboard run` with real settings variables and passes `systemd-analyze verify`; the site's read
timeout outlasts the hub's WebSocket ping interval. (The site itself runs in
tests/integration/test_nginx_deploy.py.)"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from switchboard.router import settings as S

from tests import deploy_files


def unit_entries(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) of every assignment, in order (systemd repeats keys such as Environment=)."""
    entries, section = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def test_the_unit_runs_switchboard_run_restarting_on_failure_with_settings_it_knows():
    entries = unit_entries(deploy_files.SYSTEMD_UNIT.read_text(encoding="utf-8"))
    service = {key: value for section, key, value in entries if section == "Service" and key != "Environment"}
    assert service["ExecStart"].endswith("/bin/switchboard run")
    assert service["Restart"] == "on-failure" and service["User"] and service["EnvironmentFile"]
    assert service["KillMode"] == "mixed"  # the SIGTERM goes to switchboard run only, never to Crossbar's workers
    names = {value.split("=", 1)[0] for section, key, value in entries if key == "Environment"}
    known = {value for name, value in vars(S).items() if name.startswith("ENV_")}
    assert S.ENV_DIR in names and names <= known, names - known
    assert ("Install", "WantedBy", "multi-user.target") in entries


def test_systemd_analyze_verifies_the_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        message = "systemd-analyze is not installed (make test installs it as root: apt-get install systemd)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    switchboard = Path(sys.executable).with_name("switchboard")
    unit = tmp_path / "switchboard.service"
    unit.write_text(
        deploy_files.substitute(
            deploy_files.SYSTEMD_UNIT.read_text(encoding="utf-8"),
            {"ExecStart=/opt/switchboard/venv/bin/switchboard run": f"ExecStart={switchboard} run"},
        ),
        encoding="utf-8",
    )
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0 and "switchboard.service" not in result.stderr, result.stderr


def test_the_sites_read_timeout_outlasts_the_hubs_ping_interval():
    site = deploy_files.NGINX_SITE.read_text(encoding="utf-8")
    read_timeout = int(re.search(r"proxy_read_timeout (\d+)s;", site).group(1))
    ws = S.transport(S.load_config(S.CONFIG_FILE), S.WEB_TRANSPORT_ID)["paths"]["ws"]["options"]
    assert read_timeout > 2 * ws["auto_ping_interval"] / 1000
    for needed in ("map $http_upgrade $connection_upgrade", "proxy_http_version 1.1;", "$proxy_add_x_forwarded_for"):
        assert needed in site


def test_docs_deploy_shows_the_site_and_the_unit_as_they_are():
    page = (S.PROJECT_ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for path, language in ((deploy_files.NGINX_SITE, "nginx"), (deploy_files.SYSTEMD_UNIT, "ini")):
        assert f"```{language}\n{path.read_text(encoding='utf-8')}```" in page, (
            f"docs/deploy.md differs from {path.name}"
        )

"""The wheel, as another project gets it: built from the repository, installed (not editable) into
fresh virtualenvs outside it. With the [hub] extra it runs a hub (`switchboard run --dir`) that
serves the packaged page and default config; the base install is the HTTP client and the Django
app, without Twisted or crossbar, and a brand-new Django project publishes through it to that hub.

Installs take the versions in constraints.txt, from the package registry (or pip's cache)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest
from switchboard.router import settings as S

from tests.hub_process import RunningHub

ROOT = S.PROJECT_ROOT
CONSTRAINTS = ROOT / "constraints.txt"
#: pip installs of crossbar and its dependencies can take minutes on a cold cache
INSTALL_TIMEOUT = 900


def run(*args, cwd: Path, env: dict | None = None, timeout: float = INSTALL_TIMEOUT) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env=os.environ if env is None else env,
    )
    assert result.returncode == 0, f"{args}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result.stdout


def clean_env() -> dict:
    """This test run's environment without what points into the repository's virtualenv."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH") and not k.startswith("SWITCHBOARD_")
    }


def venv(path: Path) -> Path:
    """A fresh virtualenv from the base interpreter; its python."""
    subprocess.run([sys._base_executable, "-m", "venv", str(path)], check=True, timeout=300)
    return path / "bin" / "python"


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("outside")
    assert ROOT not in where.parents
    return where


#: what a build from the repository must not see: a stale build/ would ship files deleted since
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".switchboard", "test-results"
)


@pytest.fixture(scope="module")
def wheel(outside) -> Path:
    source, dist = outside / "source", outside / "dist"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", dist, source, cwd=outside)
    (built,) = dist.glob("switchboard_hub-*.whl")
    return built


@pytest.fixture(scope="module")
def hub(outside, wheel):
    python = venv(outside / "hub-venv")
    run(python, "-m", "pip", "install", "--quiet", "-c", CONSTRAINTS, f"{wheel}[hub]", cwd=outside, env=clean_env())
    running = RunningHub(outside / "hub", command=[str(python.parent / "switchboard")], cwd=outside)
    try:
        yield running, python
    finally:
        running.close()


def test_the_wheel_holds_one_namespace_with_the_page_and_the_config(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {
        "switchboard",
        wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info",
    }
    for data in (
        "web/index.html",
        "web/switchboard.js",
        "web/vendor/autobahn.min.js",
        "web/admin.html",
        "web/admin.js",
        "web/vendor/uPlot.iife.min.js",
        "web/vendor/uPlot.min.css",
        "crossbar/config.json",
        "bridge/django/migrations/0001_initial.py",
        "router/node/launch.py",
    ):
        data = f"switchboard/{data}"
        assert data in names
    assert not [n for n in names if n.startswith(("switchboard/tests", "switchboard/bench"))]


def test_the_installed_hub_serves_from_its_own_install(hub, outside):
    running, python = hub
    where = run(
        python,
        "-c",
        "import switchboard.router, switchboard.web as w; print(switchboard.router.__file__)",
        cwd=outside,
        env=clean_env(),
    )
    assert Path(where.strip()).is_relative_to(outside / "hub-venv")
    page = urllib.request.urlopen(f"http://127.0.0.1:{running.port}/", timeout=10).read().decode()
    assert "switchboard.js" in page
    with running.client() as c:
        assert c.call("demo.add2", 40, 2) == 42
    assert (outside / "hub" / S.SECRETS_NAME).is_file()
    assert (outside / "hub" / S.NODE_DIR_NAME / "history.sqlite3").is_file()


def test_a_fresh_django_project_on_the_base_install_publishes_to_it(hub, outside, wheel):
    """docs/django.md, section 1, step by step (the hub of step 1 is the `hub` fixture)."""
    running, _ = hub
    python = venv(outside / "django-venv")
    run(python, "-m", "pip", "install", "--quiet", "-c", CONSTRAINTS, wheel, "Django", cwd=outside, env=clean_env())
    for heavy in ("twisted", "autobahn", "crossbar"):
        probe = subprocess.run([python, "-c", f"import {heavy}"], capture_output=True, timeout=60)
        assert probe.returncode != 0, f"the base install brought {heavy}"
    run(python.parent / "django-admin", "startproject", "mysite", cwd=outside, env=clean_env(), timeout=120)
    settings = outside / "mysite" / "mysite" / "settings.py"
    settings.write_text(
        settings.read_text()
        + f"""
from switchboard.bridge.django.conf import from_env

INSTALLED_APPS += ["switchboard.bridge.django"]
SWITCHBOARD = from_env({str(running.secrets_file)!r})
"""
    )
    urls = outside / "mysite" / "mysite" / "urls.py"
    urls.write_text(
        urls.read_text().replace("from django.urls import path", "from django.urls import include, path")
        + '\nurlpatterns += [path("switchboard/", include("switchboard.bridge.django.urls"))]\n'
    )
    env = {**clean_env(), "SWITCHBOARD_BRIDGE_URL": f"http://127.0.0.1:{running.port}/bridge/"}
    manage = [python, outside / "mysite" / "manage.py"]
    run(*manage, "migrate", "--verbosity", "0", cwd=outside / "mysite", env=env, timeout=120)
    run(*manage, "check", cwd=outside / "mysite", env=env, timeout=120)
    status = run(*manage, "switchboard_status", cwd=outside / "mysite", env=env, timeout=120)
    assert f"hub http://127.0.0.1:{running.port}/bridge/ (key 'django'): ok" in status
    with running.client() as c:
        events = c.subscribe("public.wheel")
        run(
            *manage,
            "shell",
            "-c",
            "from switchboard.bridge.django import publish; publish('public.wheel', 'hi')",
            cwd=outside / "mysite",
            env=env,
            timeout=120,
        )
        assert list(events.get(timeout=30).args) == ["hi"]

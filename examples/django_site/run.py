#!/usr/bin/env python
"""Start the example: the hub (told where Django is) and Django's dev server. Ctrl-C stops both.

    .venv/bin/python examples/django_site/run.py        # or: make django-example

A hub already running on the hub port is used as it is; for django.* procedures and forwarded
events it must have been started with SWITCHBOARD_DJANGO_URL (this script sets it when it starts one).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MANAGE = [sys.executable, str(HERE / "manage.py")]
DJANGO_ADDR = os.environ.get("NOTESITE_ADDR", "127.0.0.1:8000")
HUB_ENV = {
    "SWITCHBOARD_DJANGO_URL": f"http://{DJANGO_ADDR}/switchboard",
    "SWITCHBOARD_FORWARD_TOPICS": os.environ.get("SWITCHBOARD_FORWARD_TOPICS", "django.events."),
}
HUB_START_TIMEOUT = 120


def hub_http_url() -> str:
    sys.path.insert(0, str(REPO))
    from switchboard.router.settings import Settings

    return Settings.from_env().http_url


def hub_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "bridge/health", timeout=2) as response:
            return json.load(response).get("status") == "ok"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def start_hub(url: str) -> subprocess.Popen:
    print(f"run.py: starting the hub with {' '.join(f'{k}={v}' for k, v in HUB_ENV.items())}", flush=True)
    hub = subprocess.Popen(
        [sys.executable, "-m", "switchboard.router", "run"],
        cwd=REPO,
        env={**os.environ, **HUB_ENV},
        start_new_session=True,
    )  # our Ctrl-C handling stops it, after Django
    deadline = time.monotonic() + HUB_START_TIMEOUT
    try:
        while not hub_healthy(url):
            if hub.poll() is not None:
                raise SystemExit(f"run.py: the hub exited with code {hub.returncode}")
            if time.monotonic() > deadline:
                raise SystemExit(f"run.py: the hub did not come up within {HUB_START_TIMEOUT}s")
            time.sleep(0.5)  # polling a process we do not control; there is no event to wait on
    except BaseException:
        stop(hub)
        raise
    return hub


def stop(process: subprocess.Popen | None) -> None:
    if process and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    # Ctrl-C and SIGTERM stop everything, even when a shell started us with SIGINT ignored (which
    # Django's server would inherit): a Python handler is reset to the default in child processes.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    url = hub_http_url()
    try:
        return _run(url)
    except KeyboardInterrupt:
        return 130


def _run(url: str) -> int:
    hub = None
    if hub_healthy(url):
        print(
            f"run.py: using the hub already running at {url}; django.greet and forwarded events need it "
            f"to run with SWITCHBOARD_DJANGO_URL={HUB_ENV['SWITCHBOARD_DJANGO_URL']}",
            flush=True,
        )
    else:
        hub = start_hub(url)
    try:
        subprocess.run([*MANAGE, "migrate", "--noinput", "-v", "0"], check=True)
        print(
            f"\nrun.py: open http://{DJANGO_ADDR}/ (the notes page); edit notes at http://{DJANGO_ADDR}/admin/.\n"
            f"run.py: no admin user yet? {' '.join(MANAGE)} createsuperuser\n",
            flush=True,
        )
        server = subprocess.Popen([*MANAGE, "runserver", DJANGO_ADDR])
        try:
            return server.wait()
        except KeyboardInterrupt:
            server.send_signal(signal.SIGINT)  # a terminal's Ctrl-C reached it already; kill -TERM did not
            try:
                return server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                return server.wait()
    finally:
        stop(hub)


if __name__ == "__main__":
    sys.exit(main())

"""The nginx site and systemd unit of docs/deploy/, rendered for a test: the documented files are
the tested ones. Each substitution must find its text, so an edit of the files that a test no
longer follows fails loudly instead of testing something else."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from switchboard.router import settings as S
from switchboard.router.testing.hub import wait_until

DEPLOY_DIR = S.PROJECT_ROOT / "docs" / "deploy"
NGINX_SITE = DEPLOY_DIR / "switchboard.nginx.conf"
SYSTEMD_UNIT = DEPLOY_DIR / "switchboard.service"

#: the main config a test's nginx runs: everything it writes stays in its own directory
NGINX_MAIN = """\
{user}worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {run}/access.log;
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    include {site};
}}
"""


def substitute(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        if old not in text:
            raise AssertionError(f"{old!r} is no longer in the deploy file: update the test's substitutions")
        text = text.replace(old, new)
    return text


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def render_site(
    *, port: int, redirect_port: int, hub_port: int, cert: Path, key: Path, read_timeout: str = "60s"
) -> str:
    return substitute(
        NGINX_SITE.read_text(encoding="utf-8"),
        {
            "    listen 80;\n": f"    listen 127.0.0.1:{redirect_port};\n",
            "    listen [::]:80;\n": "",
            "    listen 443 ssl;\n": f"    listen 127.0.0.1:{port} ssl;\n",
            "    listen [::]:443 ssl;\n": "",
            "server 127.0.0.1:8080;": f"server 127.0.0.1:{hub_port};",
            "/etc/letsencrypt/live/hub.example.com/fullchain.pem": str(cert),
            "/etc/letsencrypt/live/hub.example.com/privkey.pem": str(key),
            "proxy_read_timeout 60s;": f"proxy_read_timeout {read_timeout};",
        },
    )


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Nginx:
    """Debian's nginx in the foreground, running the rendered site from `directory`."""

    def __init__(self, directory: Path, site: str, port: int):
        self.directory, self.port = Path(directory), port
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "site.conf").write_text(site, encoding="utf-8")
        self.conf = self.directory / "nginx.conf"
        user = "user root;\n" if os.geteuid() == 0 else ""  # its workers then read the temp dir as we do
        self.conf.write_text(
            NGINX_MAIN.format(user=user, run=self.directory, site=self.directory / "site.conf"), encoding="utf-8"
        )
        self.process: subprocess.Popen | None = None

    def command(self, *extra: str) -> list[str]:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("Debian nginx is not installed (make test installs it as root: apt-get install nginx)")
        # -e: not even the start-up error log goes to /var/log/nginx (nginx >= 1.19.5)
        return [
            binary,
            "-p",
            str(self.directory),
            "-e",
            str(self.directory / "error.log"),
            "-c",
            str(self.conf),
            *extra,
        ]

    def start(self) -> None:
        check = subprocess.run(self.command("-t"), capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen(
            self.command("-g", "daemon off;"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_until(lambda: self.process.poll() is not None or _port_open(self.port), timeout=20, what="nginx listening")
        assert self.process.poll() is None, self.process.stderr.read().decode()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: the master waits for its workers
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def error_log(self) -> str:
        return (self.directory / "error.log").read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> "Nginx":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

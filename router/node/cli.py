"""`switchboard` command: run the hub in the foreground, or check its config.

    switchboard run      start the node with its components, print the URL, restart it whenever part of it
                         dies (router/node/supervisor.py), Ctrl-C stops it
    switchboard check    validate settings and the rendered config with `crossbar check`
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from switchboard.router import settings as S
from switchboard.router.node.secrets import SECRET_NAMES

#: Node directory `switchboard run` uses (rendered config, node key, pid file); kept out of git.
RUN_DIR = S.PROJECT_ROOT / ".switchboard" / "node"


def _settings() -> S.Settings:
    try:
        return S.Settings.from_env()
    except S.SettingsError as e:
        raise SystemExit(f"switchboard: {e}") from None


def cmd_run(args) -> int:
    from switchboard.router.node.process import Node
    from switchboard.router.node.supervisor import RestartPolicy, Supervisor

    settings = _settings()
    try:
        policy = RestartPolicy.from_env()
    except ValueError as e:
        raise SystemExit(f"switchboard: {e}") from None
    # crossbar's output goes to our stdout; our own lines (router/node/supervisor.py) to stderr
    node = Node(Path(args.dir).resolve() if args.dir else RUN_DIR, settings, log=sys.stdout)

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt  # stop exactly as on Ctrl-C

    signal.signal(signal.SIGTERM, on_sigterm)
    # A shell that starts us in the background ignores SIGINT; Ctrl-C / kill -INT must still stop us.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def announce():
        where = "generated" if node.secrets_created else "using"
        print(f"\nswitchboard: {where} dev secrets in {settings.secrets_file}", flush=True)
        print(f"switchboard: hub is up. Open {settings.http_url}  (WAMP: {settings.ws_url}, backend: "
              f"{settings.backend_url}, realm {settings.realm}). Ctrl-C stops it.\n", flush=True)

    return Supervisor(node, policy=policy, on_up=announce).run()


def cmd_check(args) -> int:
    from switchboard.router.node.process import crossbar_command, render_config

    settings = _settings()
    with tempfile.TemporaryDirectory() as tmp:
        config = render_config(S.load_config(), settings)
        (Path(tmp) / "config.json").write_text(json.dumps(config), encoding="utf-8")
        # The check only needs the secret variables to exist, not their real values.
        env = {**os.environ, **{name: os.environ.get(name) or "placeholder" for name in SECRET_NAMES}}
        result = subprocess.run([*crossbar_command(), "check", "--cbdir", tmp], capture_output=True, text=True,
                                env=env)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="switchboard", description="Switchboard real-time hub")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the hub in the foreground, restarting it whenever part of it dies")
    run.add_argument("--dir", help=f"node directory: rendered config, node key, history database "
                                   f"(default {RUN_DIR.relative_to(S.PROJECT_ROOT)})")
    run.set_defaults(func=cmd_run)
    sub.add_parser("check", help="validate the node config").set_defaults(func=cmd_check)
    args = parser.parse_args(argv)
    return args.func(args)

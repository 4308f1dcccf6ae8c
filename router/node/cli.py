"""`switchboard` command: run a hub in the foreground, start a hub directory, or check a config.

    switchboard run [--dir DIR]    start the node with its components, print the URL, restart it
                                   whenever part of it dies (router/node/supervisor.py); Ctrl-C stops it
    switchboard init DIR           write a hub directory to edit: config.json and a component skeleton
    switchboard check [--dir DIR]  validate settings and the rendered config with `crossbar check`

A hub directory (SWITCHBOARD_DIR; default .switchboard in the current directory) holds the hub's own
config.json if it has one, its dev secrets and its node directory (rendered config, node key,
databases): one per hub, so several hubs run side by side on one machine.
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


def _settings(args) -> S.Settings:
    """The settings for this command; `--dir` becomes SWITCHBOARD_DIR, for the node's workers too."""
    if getattr(args, "dir", None):
        os.environ[S.ENV_DIR] = str(Path(args.dir).resolve())
    try:
        return S.Settings.from_env()
    except S.SettingsError as e:
        raise SystemExit(f"switchboard: {e}") from None


def cmd_run(args) -> int:
    from switchboard.router.node.process import Node
    from switchboard.router.node.supervisor import RestartPolicy, Supervisor

    settings = _settings(args)
    try:
        policy = RestartPolicy.from_env()
    except ValueError as e:
        raise SystemExit(f"switchboard: {e}") from None
    if (settings.home / "key.priv").exists() and not settings.node_dir.exists():
        raise SystemExit(
            f"switchboard: {settings.home} is a node directory of an earlier Switchboard (it holds "
            f"key.priv): --dir now names the hub directory, with the node in {settings.node_dir}; "
            f"move the files there (and secrets.env beside it), or pass the directory above it"
        )
    # crossbar's output goes to our stdout; our own lines (router/node/supervisor.py) to stderr
    node = Node(settings.node_dir, settings, log=sys.stdout)

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt  # stop exactly as on Ctrl-C

    signal.signal(signal.SIGTERM, on_sigterm)
    # A shell that starts us in the background ignores SIGINT; Ctrl-C / kill -INT must still stop us.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def announce():
        where = "generated" if node.secrets_created else "using"
        print(f"\nswitchboard: {where} dev secrets in {settings.secrets_file}", flush=True)
        print(
            f"switchboard: hub is up. Open {settings.http_url}  (WAMP: {settings.ws_url}, backend: "
            f"{settings.backend_url}, realm {settings.realm}). Ctrl-C stops it.\n",
            flush=True,
        )

    return Supervisor(node, policy=policy, on_up=announce).run()


def cmd_init(args) -> int:
    from switchboard.router.node import scaffold

    try:
        written = scaffold.write(Path(args.directory), port=args.port, backend_port=args.backend_port)
    except scaffold.ScaffoldError as e:
        raise SystemExit(f"switchboard: {e}") from None
    for path in written:
        print(f"switchboard: wrote {path}")
    print(f"switchboard: start it with: switchboard run --dir {args.directory}")
    return 0


def cmd_check(args) -> int:
    from switchboard.router.node.process import crossbar_command, render_config

    settings = _settings(args)
    with tempfile.TemporaryDirectory() as tmp:
        config = render_config(S.load_config(settings.config_file), settings)
        (Path(tmp) / "config.json").write_text(json.dumps(config), encoding="utf-8")
        # The check only needs the secret variables to exist, not their real values.
        env = {**os.environ, **{name: os.environ.get(name) or "placeholder" for name in SECRET_NAMES}}
        result = subprocess.run([*crossbar_command(), "check", "--cbdir", tmp], capture_output=True, text=True, env=env)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="switchboard", description="Switchboard real-time hub")
    sub = parser.add_subparsers(dest="command", required=True)
    dir_help = (
        f"hub directory: its own config.json if any, secrets, node directory and databases "
        f"(default: ${S.ENV_DIR}, else {S.DEFAULT_HUB_DIR} in the current directory)"
    )
    run = sub.add_parser("run", help="start the hub in the foreground, restarting it whenever part of it dies")
    run.add_argument("--dir", help=dir_help)
    run.set_defaults(func=cmd_run)
    init = sub.add_parser("init", help="write a hub directory to edit: config.json and a component skeleton")
    init.add_argument("directory", help="the hub directory to create (must not hold a config.json yet)")
    init.add_argument("--port", type=int, help="the web port (page, /ws, /bridge) its config gives")
    init.add_argument("--backend-port", type=int, help="the loopback RawSocket port for backend components")
    init.set_defaults(func=cmd_init)
    check = sub.add_parser("check", help="validate the node config")
    check.add_argument("--dir", help=dir_help)
    check.set_defaults(func=cmd_check)
    args = parser.parse_args(argv)
    return args.func(args)

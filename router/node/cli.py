"""`switchboard` command: run a hub in the foreground, start a hub directory, or check a config.

    switchboard run [--dir DIR]    start the node with its components, print the URL, restart it
                                   whenever part of it dies (router/node/supervisor.py); Ctrl-C stops it
    switchboard init DIR           write a hub directory to edit: config.json and a component skeleton
    switchboard check [--dir DIR]  validate settings and the rendered config with `crossbar check`
    switchboard layout [--measure] the layout `run` starts with here (proxy workers), and why
    switchboard cluster up --nodes N [--dir DIR] [--port P]
                                   a cluster on loopback: its own Redis and N nodes (router/node/cluster.py)

and, against a running hub with the secrets it generated (router/node/commands.py):

    switchboard publish TOPIC [JSON_ARG ...] [--kwargs JSON] [--retain]
    switchboard call PROCEDURE [JSON_ARG ...] [--kwargs JSON] [--timeout S]
    switchboard subscribe TOPIC [--match prefix|wildcard] [--history N]   JSON lines until Ctrl-C
    switchboard ticket --user ID [--ttl S] [--role admin]                a sign-in ticket for a browser
    switchboard status [--interval S]                                    readiness, sessions, rates, topics

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

from switchboard.bridge import tickets
from switchboard.router import settings as S
from switchboard.router.node import commands
from switchboard.router.node.secrets import SECRET_NAMES


def _use_dir(args) -> None:
    """`--dir` becomes SWITCHBOARD_DIR, for the node's workers too."""
    if getattr(args, "dir", None):
        os.environ[S.ENV_DIR] = str(Path(args.dir).resolve())


def _settings(args) -> S.Settings:
    """The settings for this command."""
    _use_dir(args)
    try:
        return S.Settings.from_env()
    except S.SettingsError as e:
        raise SystemExit(f"switchboard: {e}") from None


def _running_hub_settings(args) -> S.Settings:
    """The settings of the hub in this command's hub directory, as it runs: its addresses from the
    config it rendered into its node directory (a hub started with SWITCHBOARD_PORT=9000 is found on
    9000 from a shell without it), else from its config; the environment still wins."""
    _use_dir(args)
    rendered = S.hub_dir(os.environ) / S.NODE_DIR_NAME / "config.json"
    try:
        return S.Settings.from_env(config=S.load_config(rendered) if rendered.exists() else None)
    except (S.SettingsError, OSError, ValueError) as e:
        raise commands.CommandError(str(e), commands.EXIT_USAGE) from None


def _stop_on_signals() -> None:
    """SIGTERM and SIGINT both raise KeyboardInterrupt, so the command stops as on Ctrl-C. A shell
    that starts a command in the background ignores SIGINT for it; kill -INT must still stop it."""

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def cmd_run(args) -> int:
    from switchboard.router.node import layout_choice, layout_measure
    from switchboard.router.node.logline import own_line
    from switchboard.router.node.process import Node, running_node_pid
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
    if settings.redis_url:
        from switchboard.router.cluster import link

        why = link.reachable(settings.redis_url)
        if why:
            url = S.without_password(settings.redis_url)
            raise SystemExit(f"switchboard: {S.ENV_REDIS_URL}={url}: Redis does not answer ({why})")
    _stop_on_signals()

    def say(message: str, stream=sys.stderr) -> None:
        print(own_line(message, settings.log_format), file=stream, flush=True)

    running = running_node_pid(settings.node_dir)
    if running is not None:  # before measuring: Node.start would refuse it anyway
        raise SystemExit(f"switchboard: another hub (pid {running}) runs in {settings.node_dir}")
    settings, chosen = layout_measure.resolve(settings, lambda line: say(line, sys.stdout))
    # crossbar's output goes to our stdout; our own lines (router/node/supervisor.py) to stderr
    node = Node(settings.node_dir, settings, log=sys.stdout)

    def announce():
        where = "generated" if node.secrets_created else "using"
        say(f"{where} dev secrets in {settings.secrets_file}", sys.stdout)
        workers = ", ".join(f"{name} (pid {pid})" for name, pid in sorted(node.worker_pids().items()))
        layout = layout_choice.describe(settings.proxy_workers)
        if settings.redis_url:
            layout += f", a cluster node on {S.without_password(settings.redis_url)}"
        say(f"layout: {layout} ({chosen}; docs/scaling.md); workers: {workers}", sys.stdout)
        say(
            f"hub is up. Open {settings.http_url}  (WAMP: {settings.ws_url}, backend: "
            f"{settings.backend_url}, realm {settings.realm}; readiness: {settings.ready_url}, metrics: "
            f"{settings.metrics_url}; dashboard: {settings.dashboard_url}, signed in with "
            f"{S.ENV_ADMIN_SECRET} from {settings.secrets_file}). "
            "Ctrl-C stops it.",
            sys.stdout,
        )

    return Supervisor(node, policy=policy, on_up=announce, log=say).run()


def cmd_layout(args) -> int:
    """What layout `switchboard run` starts with here, and why; --measure measures again first."""
    from switchboard.router.node import layout_choice, layout_measure

    settings = _settings(args)
    if args.measure:
        explicit = None if settings.layout_auto else settings.proxy_workers
        settings, chosen = layout_measure.resolve(settings, print, again=True)
        if explicit is not None:
            chosen += f"; `switchboard run` starts with {explicit} all the same: {S.ENV_PROXY_WORKERS}={explicit}"
    elif settings.layout_auto:
        picked, saved = layout_measure.saved_choice(settings)
        if picked is None:
            where = layout_measure.layout_path(settings)
            state = "measured for another machine, release or TLS setting" if saved else "not measured yet"
            print(f"{S.ENV_PROXY_WORKERS}=auto: {state} ({where}); `switchboard run` measures at its start")
            return 0
        settings, chosen = layout_measure.resolve(settings, print)
    else:
        chosen = f"{S.ENV_PROXY_WORKERS}={settings.proxy_workers}"
    print(f"layout: {layout_choice.describe(settings.proxy_workers)} ({chosen})")
    return 0


def cmd_cluster_up(args) -> int:
    from switchboard.router.node import cluster
    from switchboard.router.node.logline import own_line

    log_format = S.log_format(os.environ)

    def say(message: str) -> None:
        print(own_line(message, log_format), flush=True)

    return cluster.up(Path(args.dir), args.nodes, args.port, say)


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


def _emit(value, as_json: bool, text: str | None = None) -> None:
    print(json.dumps(value, separators=(",", ":")) if as_json or text is None else text, flush=True)


def cmd_publish(args) -> int:
    settings = _running_hub_settings(args)
    event_args, kwargs = commands.json_args(args.args), commands.json_kwargs(args.kwargs)
    result = commands.publish(settings, args.topic, event_args, kwargs, retain=args.retain, url=args.url)
    _emit(result, args.json, f"published {args.topic} (id {result['id']}{', a repeat' if result['duplicate'] else ''})")
    return commands.EXIT_OK


def cmd_call(args) -> int:
    settings = _running_hub_settings(args)
    call_args, kwargs = commands.json_args(args.args), commands.json_kwargs(args.kwargs)
    _emit(commands.call(settings, args.procedure, call_args, kwargs, timeout=args.timeout, url=args.url), True)
    return commands.EXIT_OK


def cmd_subscribe(args) -> int:
    settings = _running_hub_settings(args)
    _stop_on_signals()
    try:
        for event in commands.subscribe(settings, args.topic, match=args.match, history=args.history, url=args.url):
            _emit(event, True)
    except KeyboardInterrupt:
        pass
    return commands.EXIT_OK


def cmd_ticket(args) -> int:
    result = commands.ticket(_running_hub_settings(args), args.user, ttl=args.ttl, role=args.role)
    _emit(result, args.json, result.get("url", result["ticket"]))  # role admin: the dashboard link
    return commands.EXIT_OK


def cmd_status(args) -> int:
    result = commands.status(_running_hub_settings(args), url=args.url, interval=args.interval)
    _emit(result, args.json, _status_text(result))
    return commands.EXIT_OK if result["ready"] else commands.EXIT_REFUSED


def _status_text(status: dict) -> str:
    components = status["components"]
    sessions = status["sessions"]
    lines = [
        f"hub {status['url']} realm {status['realm']}: "
        + ("ready" if status["ready"] else "NOT READY")
        + f" ({components['ready']} of {components['expected']} components ready)",
        f"sessions: {sessions['total']} (" + ", ".join(f"{role} {n}" for role, n in sessions["by_role"].items()) + ")",
        *_rates_line(status["rates"]),
        *_listing("topics", status["topics"], "subscribers"),
        *_listing("registrations", status["registrations"], "callees"),
    ]
    return "\n".join(lines)


def _rates_line(rates: dict | None) -> list[str]:
    if rates is None:
        return []
    if "error" in rates:
        return [f"rates: unavailable ({rates['error']})"]
    per_second = ", ".join(f"{name.replace('_', ' ')} {rates[name]:g}" for name in commands.RATES)
    return [f"rates over {rates['interval']:g} s, per second: {per_second}"]


def _listing(title: str, items: list[dict], members: str) -> list[str]:
    return [f"{title} ({len(items)}):"] + [
        f"  {i['uri']}{'' if i['match'] == 'exact' else ' [' + i['match'] + ']'}: {i[members]} {members}" for i in items
    ]


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return value


def _not_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def _payload_arguments(parser, first: str) -> None:
    """The topic or procedure, then the event's or call's arguments, each one JSON value."""
    parser.add_argument(first)
    parser.add_argument(
        "args",
        nargs="*",
        metavar="JSON_ARG",
        help="positional arguments, each one JSON value ('\"text\"', 3, '{\"a\": 1}')",
    )
    parser.add_argument("--kwargs", metavar="JSON", help="keyword arguments, one JSON object")


def _talk_parser(sub, name: str, help: str, dir_help: str, url_help: str, func, json_flag: bool = True):
    parser = sub.add_parser(name, help=help)
    parser.add_argument("--dir", help=dir_help)
    parser.add_argument("--url", help=url_help)
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print the result as one line of JSON")
    parser.set_defaults(func=func)
    return parser


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
    layout_cmd = sub.add_parser("layout", help="the layout `run` starts with here (proxy workers), and why")
    layout_cmd.add_argument("--dir", help=dir_help)
    layout_cmd.add_argument(
        "--measure", action="store_true", help="measure this machine again (about 30 s) and keep the answer"
    )
    layout_cmd.set_defaults(func=cmd_layout)
    cluster_cmd = sub.add_parser("cluster", help="a local cluster to try and test (docs/scaling.md)")
    cluster_sub = cluster_cmd.add_subparsers(dest="cluster_command", required=True)
    up = cluster_sub.add_parser(
        "up", help="start Redis and N nodes on loopback, print their URLs; Ctrl-C stops them all"
    )
    up.add_argument("--nodes", type=int, default=3, help="how many nodes (3)")
    up.add_argument(
        "--dir",
        default=".switchboard-cluster",
        help="the cluster's directory: secrets.env, redis/, and node1/, node2/, ... each a hub directory "
        "(default: .switchboard-cluster in the current directory)",
    )
    up.add_argument(
        "--port",
        type=int,
        help="the first port: the nodes' web ports from it, then their backend ports, then Redis's "
        "(default: free ports)",
    )
    up.set_defaults(func=cmd_cluster_up)

    bridge_help = "the hub's HTTP bridge (default: this hub directory's, http://HOST:PORT/bridge/)"
    backend_help = "the hub's backend RawSocket transport (default: this hub directory's, rs://127.0.0.1:PORT)"
    publish = _talk_parser(sub, "publish", "publish one event through the bridge", dir_help, bridge_help, cmd_publish)
    _payload_arguments(publish, "topic")
    publish.add_argument("--retain", action="store_true", help="the hub keeps it as the topic's retained event")
    call = _talk_parser(
        sub,
        "call",
        "call a procedure through the bridge; prints its result as JSON",
        dir_help,
        bridge_help,
        cmd_call,
        json_flag=False,
    )
    _payload_arguments(call, "procedure")
    call.add_argument(
        "--timeout",
        type=_positive,
        default=commands.DEFAULT_TIMEOUT,
        help=f"seconds the hub waits for the result ({commands.DEFAULT_TIMEOUT:g})",
    )
    subscribe = _talk_parser(
        sub,
        "subscribe",
        "print a topic's events as JSON lines until Ctrl-C",
        dir_help,
        backend_help,
        cmd_subscribe,
        json_flag=False,
    )
    subscribe.add_argument("topic")
    subscribe.add_argument("--match", choices=("exact", "prefix", "wildcard"), default="exact")
    subscribe.add_argument(
        "--history", type=_count, default=0, metavar="N", help="first the N newest stored events (history.get's limit)"
    )
    ticket = sub.add_parser("ticket", help="a sign-in ticket for a browser session (docs/security.md)")
    ticket.add_argument("--dir", help=dir_help)
    ticket.add_argument("--user", required=True, help="the authid the session gets")
    ticket.add_argument(
        "--ttl",
        type=_positive,
        default=float(tickets.DEFAULT_TTL),
        help=f"seconds it stays valid ({tickets.DEFAULT_TTL}, at most {tickets.MAX_TTL})",
    )
    ticket.add_argument(
        "--role",
        choices=tickets.ROLES,
        default=tickets.USER_ROLE,
        help="the session's role: admin signs in to the dashboard (open DASHBOARD_URL#ticket=TICKET)",
    )
    ticket.add_argument("--json", action="store_true", help="print ticket, user, role and expiry as JSON")
    ticket.set_defaults(func=cmd_ticket)
    status = _talk_parser(
        sub,
        "status",
        "readiness, sessions, rates, topics and registrations; exit 1 if not ready",
        dir_help,
        backend_help,
        cmd_status,
    )
    status.add_argument(
        "--interval",
        type=_not_negative,
        default=commands.DEFAULT_INTERVAL,
        metavar="S",
        help=f"seconds between the two reads of the hub's /metrics the rates come from "
        f"({commands.DEFAULT_INTERVAL:g}; 0: no rates)",
    )
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except commands.CommandError as e:
        print(f"switchboard {args.command}: {e}", file=sys.stderr, flush=True)
        return e.code
    except KeyboardInterrupt:
        return 130  # Ctrl-C before the command was done (subscribe ends on it with 0)
    except BrokenPipeError:  # stdout closed early (`switchboard subscribe ... | head -1`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return commands.EXIT_OK

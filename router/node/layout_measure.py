"""`switchboard run` with SWITCHBOARD_PROXY_WORKERS=auto (the default): measure which layout serves
best on this machine, once, and keep the answer in the hub directory (settings.LAYOUT_NAME).

Each candidate layout (router/node/layout_choice.py) is a hub of its own in a temp directory, on
free loopback ports, with the shipped config's router and one echo component (router/node/
layout_callee.py) in place of the app's; the same loads run against each (router/node/
layout_load.py, a process of its own) while the CPU seconds of each of the hub's processes are
read; layout_choice decides. The answer holds for this machine, release and TLS setting (its
fingerprint); another is measured again, and `switchboard layout --measure` measures on demand.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import platform
import queue
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Callable

from switchboard.bridge.limits import lifted_for_load
from switchboard.router import settings as S
from switchboard.router.node import layout_choice as choice
from switchboard.router.node import layout_wire as wire
from switchboard.router.node.process import Node, NodeError, free_port

#: the sessions the load process holds for the loads (layout_wire.LOADS)
SUBSCRIBERS, CALLERS = 50, 4
#: seconds of load before the CPU is read, so every session is busy and caches are warm
WARM_SECONDS = 0.5
#: seconds the load process has to say it is ready (joined), and to answer a command (on top of its load)
READY_TIMEOUT, ANSWER_TIMEOUT = wire.JOIN_TIMEOUT + 10, 30.0
#: what a candidate hub takes to start and stop, for the estimate the start line gives
HUB_SECONDS = 8.0
VERSIONED = ("switchboard-hub", "crossbar", "autobahn", "twisted")
ECHO_CLASS = "switchboard.router.node.layout_callee.Echo"
#: a candidate hub is a node on its own whatever this one's environment says: no cluster, no Django
ALONE = {S.ENV_REDIS_URL: "", S.ENV_WS_URLS: "", S.ENV_DJANGO_URL: ""}


class MeasureError(RuntimeError):
    pass


#: what a failing measurement raises besides MeasureError: a dead load process (a broken pipe, a
#: garbled line), a hub that would not start or stop, a file that could not be written
FAILURES = (MeasureError, NodeError, OSError, ValueError, subprocess.SubprocessError)


def measure_config(config: dict) -> dict:
    """`config` (the shipped one) for a candidate hub: no app components but the echo one, and the
    anonymous role allowed the load's URIs (layout_wire.PREFIX)."""
    config = copy.deepcopy(config)
    router = S.router_worker(config)
    config["workers"] = [w for w in config["workers"] if w["type"] != "container"]
    anonymous = S.transport(config, S.WEB_TRANSPORT_ID)["paths"]["ws"]["auth"]["anonymous"]["role"]
    for role in router["realms"][0]["roles"]:
        if role["name"] == anonymous:
            role.setdefault("permissions", []).append(
                {
                    "uri": wire.PREFIX,
                    "match": "prefix",
                    "allow": {"call": True, "register": False, "publish": True, "subscribe": True},
                    "disclose": {"caller": False, "publisher": False},
                    "cache": True,
                }
            )
    port = S.transport(config, S.BACKEND_TRANSPORT_ID)["endpoint"]["port"]  # render_config sets the hub's
    component = {
        "id": "echo",
        "type": "class",
        "classname": ECHO_CLASS,
        "realm": S.realm_name(config),
        "transport": {
            "type": "rawsocket",
            "serializer": "msgpack",
            "endpoint": {"type": "tcp", "host": "127.0.0.1", "port": port},
        },
    }
    config["workers"].append({"id": "echo", "type": "container", "components": [component]})
    return config


def cores() -> int:
    return len(os.sched_getaffinity(0))


def processor() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "unknown"
    return found


def fingerprint(settings: S.Settings) -> dict:
    return choice.fingerprint(cores(), processor(), versions(), settings.tls is not None)


class LoadProcess:
    """layout_load in a process of its own: its lines read on a thread, each awaited with a timeout."""

    def __init__(self, url: str, realm: str, errors: Path):
        self.errors = errors
        with open(errors, "wb") as stderr:  # a file: a pipe nobody reads would block it
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "switchboard.router.node.layout_load",
                    url,
                    realm,
                    str(SUBSCRIBERS),
                    str(CALLERS),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def expect(self, word: str, timeout: float) -> list[str]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise MeasureError(f"the load process did not say {word!r} within {timeout:g} s") from None
        if line is None:
            self.process.wait(10)
            last = self.errors.read_text(errors="replace").strip().splitlines()[-1:]
            raise MeasureError(f"the load process exited with {self.process.returncode} before {word!r}: {last}")
        words = line.split()
        if not words or words[0] != word:
            raise MeasureError(f"the load process said {line!r}, not {word!r}")
        return words[1:]

    def send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.send("quit")
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    import psutil  # installed with crossbar

    spent = {}
    for name, pid in pids.items():
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error as e:
            raise MeasureError(f"the hub's process {name} (pid {pid}) went away: {e}") from None
        spent[name] = times.user + times.system
    return spent


def measure_layout(workdir: Path, proxies: int, tls: S.Tls | None, seconds: float) -> list[choice.Phase]:
    """Every load's Phase on a hub with `proxies` proxy workers, in `workdir`."""
    config = measure_config(S.load_config(S.CONFIG_FILE))
    settings = S.Settings(
        host="127.0.0.1",
        port=free_port(),
        backend_port=free_port(),
        realm=S.realm_name(config),
        loglevel="warn",
        proxy_workers=proxies,
        router_web_port=free_port(),
        home=workdir,
        secrets_file=workdir / S.SECRETS_NAME,
        tls=tls,
    )
    with open(workdir / "node.log", "ab") as log:
        node = Node(workdir / S.NODE_DIR_NAME, settings, log=log, extra_env=ALONE | lifted_for_load(), config=config)
        try:
            node.start()
            pids = {"controller": node.process.pid, **node.worker_pids()}
            generator = LoadProcess(settings.ws_url, settings.realm, workdir / "load.log")
            try:
                generator.expect("ready", READY_TIMEOUT)
                phases = []
                for name in wire.LOADS:
                    generator.send(f"go {name} {WARM_SECONDS} {seconds}")
                    generator.expect("measuring", ANSWER_TIMEOUT)
                    before = cpu_seconds(pids)
                    units, elapsed = generator.expect("done", ANSWER_TIMEOUT + seconds)[1:]
                    after = cpu_seconds(pids)
                    spent = {k: round(after[k] - before[k], 4) for k in pids}
                    phases.append(choice.Phase(name, int(units), float(elapsed), spent))
                    generator.expect("idle", ANSWER_TIMEOUT)
                return phases
            finally:
                generator.close()
        except NodeError as e:
            raise MeasureError(f"a hub with {proxies} proxy workers did not start: {e}") from None
        finally:
            node.stop()


def measure(settings: S.Settings, seconds: float) -> tuple[choice.Choice, dict]:
    """Measure every candidate; the choice and what layout.json keeps."""
    n = cores()
    measured: dict[int, list[choice.Phase]] = {}
    with tempfile.TemporaryDirectory(prefix="switchboard-layout-") as tmp:
        for proxies in choice.candidates(n):
            workdir = Path(tmp) / f"proxies-{proxies}"
            workdir.mkdir()
            measured[proxies] = measure_layout(workdir, proxies, settings.tls, seconds)
    picked = choice.choose(measured, n)
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return picked, choice.to_json(picked, fingerprint(settings), measured, when)


def estimate(seconds: float, n: int) -> float:
    return len(choice.candidates(n)) * (HUB_SECONDS + len(wire.LOADS) * (WARM_SECONDS + seconds))


def write_atomically(path: Path, text: str) -> None:
    """`text` in `path`, whole or not at all (a start that reads it meanwhile sees the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def layout_path(settings: S.Settings) -> Path:
    return settings.home / S.LAYOUT_NAME


def saved_choice(settings: S.Settings) -> tuple[choice.Choice | None, dict | None]:
    """The hub directory's measurement if it holds for this machine, and what the file says."""
    try:
        saved = json.loads(layout_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    return (choice.from_json(saved, fingerprint(settings)) if isinstance(saved, dict) else None), saved


def resolve(settings: S.Settings, say: Callable[[str], None], again: bool = False) -> tuple[S.Settings, str]:
    """`settings` with the proxy count to start with, and how it was chosen, for the start line.

    An explicit SWITCHBOARD_PROXY_WORKERS is taken as it is. Auto takes the hub directory's
    measurement, or measures (a failure is one line, and the hub starts with no proxies)."""
    if not settings.layout_auto and not again:
        return settings, f"{S.ENV_PROXY_WORKERS}={settings.proxy_workers}"
    path = layout_path(settings)
    if len(choice.candidates(cores())) == 1:
        return dataclasses.replace(
            settings, proxy_workers=0
        ), f"{S.ENV_PROXY_WORKERS}=auto: one core, nothing to spread"
    picked, saved = (None, None) if again else saved_choice(settings)
    kept = f"kept in {path}"
    if picked is None:
        seconds = S.layout_seconds(os.environ)
        counts = " and ".join(map(str, choice.candidates(cores())))
        say(
            f"measuring which layout serves best on this machine, once for this hub directory: {counts} "
            f"proxy workers, about {estimate(seconds, cores()):.0f} s ({S.ENV_PROXY_WORKERS}=0 starts "
            "without measuring)"
        )
        try:
            picked, saved = measure(settings, seconds)
        except FAILURES as e:
            say(f"the layout measurement failed ({e}); starting with no proxies, measuring again next start")
            return dataclasses.replace(settings, proxy_workers=0), f"{S.ENV_PROXY_WORKERS}=auto, not measured"
        try:
            write_atomically(path, json.dumps(saved, indent=2) + "\n")
        except OSError as e:
            say(f"could not keep the layout measurement in {path} ({e}); the next start measures again")
            kept = "not kept"
    note = f"{S.ENV_PROXY_WORKERS}=auto: measured {saved.get('measured_at')} {choice.summary(picked)}; {kept}"
    return dataclasses.replace(settings, proxy_workers=picked.proxies), note

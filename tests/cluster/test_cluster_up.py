"""`switchboard cluster up`, the real command in a subprocess: its URL lines, every node's page and
/ready, pub/sub from node 1 to node 3, shared secrets, its refusals, and a Ctrl-C that leaves no
process behind."""

import json
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import psutil
from switchboard.bridge.client import HubClient
from switchboard.bridge.envfile import parse_env_file
from switchboard.router import settings as S
from switchboard.router.client import Client
from switchboard.router.node.process import port_open

ROW = re.compile(r"^(node\d+)\s+(http://\S+/)\s+(ws://\S+/ws)\s+(http://\S+/bridge/)$")
START_TIMEOUT = 240.0  # three nodes on two shared cores: ~15 s idle, over a minute when the machine is busy


def cluster_up(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "switchboard.router", "cluster", "up", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # as a terminal's job: its Ctrl-C goes to it alone
    )


class Lines:
    """The command's output, line by line, read on a thread (so a wait has a timeout)."""

    def __init__(self, process: subprocess.Popen):
        self.seen: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} within {timeout:g} s: {self.seen}") from None
            if line is None:
                raise AssertionError(f"the command ended before a line matching {pattern!r}: {self.seen}")
            self.seen.append(line)
            if re.search(pattern, line):
                return line


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.read()


def free_run(count: int) -> int:
    """The first of `count` consecutive free loopback ports, below the kernel's ephemeral range (the
    other tests' client sockets take ports from that range at any moment)."""
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    for _ in range(200):
        first = random.randrange(10_000, low - count)
        if all(_bindable(port) for port in range(first, first + count)):
            return first
    raise AssertionError(f"no {count} consecutive free ports found")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_cluster_up_starts_three_nodes_that_share_events_and_ctrl_c_stops_everything(tmp_path):
    directory = tmp_path / "cluster"
    process = cluster_up("--nodes", "3", "--dir", str(directory))
    try:
        lines = Lines(process)
        lines.until(r"cluster is up", START_TIMEOUT)
        assert sum("ready in" in line for line in lines.seen) == 3, lines.seen
        assert not any("Traceback" in line for line in lines.seen), lines.seen
        rows = [ROW.match(line) for line in lines.seen if ROW.match(line)]
        assert [row.group(1) for row in rows] == ["node1", "node2", "node3"], lines.seen
        group = psutil.Process(process.pid).children(recursive=True)  # Redis, 3 runs, their nodes and workers
        redis_port = int(re.search(r"Redis redis://127\.0\.0\.1:(\d+)/0", lines.seen[-1]).group(1))

        ws_urls = [row.group(3) for row in rows]
        for row in rows:
            status, page = get(row.group(2))
            assert status == 200 and b"<title>Switchboard</title>" in page
            status, ready = get(row.group(2) + S.READY_PATH)
            assert status == 200 and json.loads(ready)["status"] == "ready"
            info = json.loads(get(row.group(2) + "info")[1])
            assert info["ws_urls"] == ws_urls  # the page fails over between them

        # a second cluster in the same directory is refused while this one runs
        second = subprocess.run(
            [sys.executable, "-m", "switchboard.router", "cluster", "up", "--dir", str(directory)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert f"{directory} holds a running cluster (pid {process.pid})" in second.stdout

        # a publish on node 1 reaches a subscriber on node 3: a chat message, and the HTTP bridge signed
        # with the one secrets file every node uses
        secrets = parse_env_file((directory / "secrets.env").read_text(encoding="utf-8"))
        with Client(ws_urls[2], "switchboard") as on_3, Client(ws_urls[0], "switchboard") as on_1:
            chat = on_3.subscribe("chat.room.cluster-up")
            news = on_3.subscribe("public.cluster-up")
            on_1.call("chat.post", "cluster-up", "hello from node 1", "ann")
            assert chat.get(timeout=10).args[0]["text"] == "hello from node 1"
            bridge = HubClient(rows[0].group(4), key=S.DEFAULT_BRIDGE_KEY, secret=secrets[S.ENV_BRIDGE_SECRET])
            bridge.publish("public.cluster-up", "signed on node 1")
            assert news.get(timeout=10).args == ("signed on node 1",)

        process.send_signal(signal.SIGINT)
        assert process.wait(120) == 0
        lines.until(r"stopped\.$", 10)
        gone, alive = psutil.wait_procs(group, timeout=10)
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], "processes left behind"
        assert not port_open("127.0.0.1", redis_port), "Redis still listens"
        for row in rows:
            port = int(row.group(2).rsplit(":", 1)[1].rstrip("/"))
            assert not port_open("127.0.0.1", port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def test_cluster_up_refuses_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = cluster_up("--nodes", "2", "--port", str(port), "--dir", str(tmp_path / "c"))
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    assert f"port {port} (node1's web port) is already in use: pass another --port" in out
    assert "Traceback" not in out
    assert not (tmp_path / "c" / "redis").exists(), "nothing started"


def test_cluster_up_refuses_a_port_range_past_the_last_port(tmp_path):
    process = cluster_up("--nodes", "3", "--port", "65530", "--dir", str(tmp_path / "c"))
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 1 and "--port 65530: 3 nodes need 7 ports" in out


def test_cluster_up_with_consecutive_ports_and_a_forced_stop(tmp_path):
    """--port P: the web ports P, P+1, then the backend ports, then Redis, said in its first line."""
    first = free_run(3)
    process = cluster_up("--nodes", "1", "--port", str(first), "--dir", str(tmp_path / "c"))
    try:
        lines = Lines(process)
        assert f"ports from --port {first} on" in lines.until(r"starting 1 node in", 30)
        lines.until(r"cluster is up", START_TIMEOUT)
        row = next(ROW.match(line) for line in lines.seen if ROW.match(line))
        assert row.group(2) == f"http://127.0.0.1:{first}/"
        assert f"Redis redis://127.0.0.1:{first + 2}/0" in lines.seen[-1]
        group = psutil.Process(process.pid).children(recursive=True)
        # SIGTERM stops it in order; a second signal meanwhile kills everything at once
        process.send_signal(signal.SIGTERM)
        lines.until(r"stopping the nodes", 30)
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 1
        lines.until(r"killed\.$", 10)
        _, alive = psutil.wait_procs(group, timeout=10)
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], "processes left behind"
        assert not any(port_open("127.0.0.1", port) for port in range(first, first + 3))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)

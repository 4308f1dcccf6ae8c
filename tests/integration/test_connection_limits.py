"""Per-address connection limits on the web transport (router/patches/connlimit.py), on a real hub: a
connection over the open limit or the connect rate is closed at once while the others keep
working, other addresses are unaffected (127.0.0.2 is loopback too, a second source address), a
refused address is let in again once it is under the limit, and a burst of refusals is one log line."""

import re
import socket

import pytest
from switchboard.router.testing.hub import Hub, wait_until

#: the rate test's client address (any 127.x.y.z is loopback on Linux)
BURSTY = "127.0.0.3"
REQUEST = b"GET /info HTTP/1.1\r\nHost: hub\r\n\r\n"


def probe(hub: Hub, source: str = "127.0.0.1", sock: socket.socket | None = None) -> socket.socket | None:
    """GET /info from `source` (on `sock` if given, else a new connection): the connection if the
    hub answered (left open), None if it closed the connection instead."""
    try:
        if sock is None:
            sock = socket.socket()
            sock.settimeout(10)
            sock.bind((source, 0))
            sock.connect(("127.0.0.1", hub.settings.port))
        sock.sendall(REQUEST)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("closed")
            head += chunk
    except (ConnectionResetError, BrokenPipeError):
        sock.close()
        return None
    headers, _, body = head.partition(b"\r\n\r\n")
    assert headers.startswith(b"HTTP/1.1 200"), headers
    length = int(re.search(rb"(?i)content-length: *(\d+)", headers).group(1))
    while len(body) < length:
        body += sock.recv(65536)
    return sock


def let_in(hub: Hub, count: int = 1, source: str = "127.0.0.1") -> bool:
    """Whether `count` new connections from `source` are all served (closed again either way)."""
    socks = [probe(hub, source) for _ in range(count)]
    for s in socks:
        if s is not None:
            s.close()
    return all(socks)


def refusal_lines(hub: Hub, source: str) -> list[str]:
    return [line for line in hub.log_text().splitlines() if f"connection(s) from {source} in" in line]


@pytest.fixture(scope="module")
def open_hub(tmp_path_factory):
    env = {"SWITCHBOARD_CONNECTIONS_PER_IP": "3", "SWITCHBOARD_CONNECTS_PER_SECOND_PER_IP": "1000"}
    with Hub.started(tmp_path_factory.mktemp("open-limit"), with_components=False, env=env) as hub:
        yield hub


@pytest.fixture(scope="module")
def rate_hub(tmp_path_factory):
    env = {"SWITCHBOARD_CONNECTIONS_PER_IP": "0", "SWITCHBOARD_CONNECTS_PER_SECOND_PER_IP": "1"}  # bursts of 5
    with Hub.started(tmp_path_factory.mktemp("rate-limit"), with_components=False, env=env) as hub:
        yield hub


def test_the_fourth_open_connection_is_closed_and_the_others_keep_working(open_hub):
    with open_hub.client() as ws1, open_hub.client() as ws2:  # WebSocket sessions count too
        http = probe(open_hub)
        assert http is not None
        try:
            assert probe(open_hub) is None
            other = probe(open_hub, source="127.0.0.2")
            assert other is not None, "another address is not limited by this one's connections"
            other.close()
            assert probe(open_hub, sock=http) is http  # still served, on the same connection
            for ws in (ws1, ws2):
                ws.subscribe("chat.room.lobby")  # a round trip on each WebSocket session
        finally:
            http.close()
        # the closed connection (the plain HTTP one) makes room again
        wait_until(lambda: let_in(open_hub), timeout=10, what="a connection let in")
    # WebSocket connections give their place back when they close, after the upgrade too
    wait_until(lambda: let_in(open_hub, 3), timeout=10, what="three connections let in")


def test_a_burst_over_the_connect_rate_is_closed_then_let_in_again(rate_hub):
    # not 127.0.0.1, whose bucket the hub's start (polling its port) has drawn on
    accepted = [probe(rate_hub, BURSTY) for _ in range(5)]  # the bucket holds five seconds' worth
    try:
        assert all(accepted)
        refused = 0
        for _ in range(10):
            assert probe(rate_hub, BURSTY) is None
            refused += 1
        other = probe(rate_hub, source="127.0.0.2")
        assert other is not None
        other.close()

        def let_in_counted():
            nonlocal refused
            if let_in(rate_hub, source=BURSTY):
                return True
            refused += 1
            return False

        wait_until(let_in_counted, timeout=10, interval=0.1, what="a connection let in once the bucket refilled")
        for s in accepted:  # the connections let in before the burst were never disturbed
            assert probe(rate_hub, sock=s) is s
        # one line for the whole burst, with its count, once the report's window is over
        lines = wait_until(lambda: refusal_lines(rate_hub, BURSTY), timeout=30, what="the refusal report")
        assert len(lines) == 1, lines
        assert f"refused {refused} connection(s) from {BURSTY} in 10 s: {refused} over 1 new connections/s" in lines[0]
        assert "Traceback" not in rate_hub.log_text()
        assert not refusal_lines(rate_hub, "127.0.0.2")
    finally:
        for s in accepted:
            s and s.close()


def test_the_backend_rawsocket_is_not_limited(open_hub):
    clients = []
    try:
        for _ in range(5):  # over the web transport's 3 per address, all from 127.0.0.1
            clients.append(open_hub.backend_client())
        for c in clients:
            c.subscribe("chat.room.lobby")
    finally:
        for c in clients:
            c.close()

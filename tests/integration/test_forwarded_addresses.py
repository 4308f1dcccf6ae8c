"""Client addresses forwarded by a trusted proxy (SWITCHBOARD_TRUSTED_PROXIES,
router/patches/forwarded.py) on a real hub, without a proxy: 127.0.0.1 plays the proxy and writes
X-Forwarded-For itself. Its connections count against the clients they name (one over the limit
answered 429 with the limit's name), anyone else's header is ignored, and a WebSocket session's
peer is the forwarded client. tests/integration/test_nginx_deploy.py does the same through nginx."""

from __future__ import annotations

import json
import re
import socket

import pytest
from switchboard.router import settings as S
from switchboard.router.testing.hub import Hub, wait_until

LIMIT = 2


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    env = {
        S.ENV_TRUSTED_PROXIES: "127.0.0.1",
        "SWITCHBOARD_CONNECTIONS_PER_IP": str(LIMIT),
        "SWITCHBOARD_CONNECTS_PER_SECOND_PER_IP": "1000",
    }
    with Hub.started(tmp_path_factory.mktemp("forwarded"), with_components=False, env=env) as running:
        yield running


def request(hub: Hub, forwarded_for: str | None, source: str = "127.0.0.1") -> tuple[socket.socket, int, bytes]:
    """GET /info on a new keep-alive connection from `source`: the socket (left open), status, body;
    status 0 when the hub closed the connection without an answer (the refusal at accept)."""
    sock = socket.socket()
    sock.settimeout(10)
    sock.bind((source, 0))
    header = f"X-Forwarded-For: {forwarded_for}\r\n" if forwarded_for else ""
    head = b""
    try:
        sock.connect(("127.0.0.1", hub.settings.port))
        sock.sendall(f"GET /info HTTP/1.1\r\nHost: hub\r\n{header}\r\n".encode())
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(65536)
            if not chunk:
                return sock, 0, b""
            head += chunk
    except (ConnectionResetError, BrokenPipeError):
        return sock, 0, b""
    headers, _, body = head.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", headers).group(1))
    while len(body) < length:
        body += sock.recv(65536)
    return sock, int(headers.split()[1]), body


def test_a_trusted_proxys_connections_count_against_the_clients_they_forward(hub):
    held = []
    try:
        for _ in range(LIMIT):
            sock, status, _ = request(hub, "203.0.113.1")
            held.append(sock)
            assert status == 200
        sock, status, body = request(hub, "198.51.100.7, 203.0.113.1")  # what the client wrote is not believed
        held.append(sock)
        assert status == 429
        assert json.loads(body) == {
            "error": "switchboard.error.limit_exceeded",
            "message": f"203.0.113.1 has {LIMIT} open connections (SWITCHBOARD_CONNECTIONS_PER_IP)",
        }
        for other in ("203.0.113.2", None):  # another client; the proxy's own request counts as the proxy
            sock, status, _ = request(hub, other)
            held.append(sock)
            assert status == 200
    finally:
        for sock in held:
            sock.close()
    wait_until(
        lambda: request(hub, "203.0.113.1")[1] == 200, what="203.0.113.1 let in again once its connections closed"
    )
    lines = wait_until(
        lambda: [line for line in hub.log_text().splitlines() if "connection(s) from 203.0.113.1 in" in line],
        timeout=20,
        what="the refusal logged under the forwarded client",
    )
    assert "refused 1 connection(s) from 203.0.113.1" in lines[0]
    assert "Traceback" not in hub.log_text()


def test_an_untrusted_peer_cannot_name_another_client(hub):
    held = []
    try:
        for _ in range(LIMIT):
            sock, status, _ = request(hub, "203.0.113.50", source="127.0.0.2")
            held.append(sock)
            assert status == 200
        sock, status, _ = request(hub, "203.0.113.51", source="127.0.0.2")  # still 127.0.0.2: closed at accept
        held.append(sock)
        assert status == 0
    finally:
        for sock in held:
            sock.close()


def test_a_websocket_session_through_the_proxy_has_the_forwarded_client_as_its_peer(hub):
    from tests.wsraw import RawWebSocket  # a raw handshake, so the test can write the proxy's header

    with RawWebSocket("127.0.0.1", hub.settings.port, headers={"X-Forwarded-For": "203.0.113.9"}) as ws:
        ws.send(json.dumps([1, hub.realm, {"roles": {"caller": {}}}]).encode())
        welcome = json.loads(ws.recv())
        assert welcome[0] == 2
        with hub.backend_client() as backend:
            assert backend.call("wamp.session.get", welcome[1])["transport"]["peer"] == "tcp4:203.0.113.9"


def test_behind_a_proxy_that_speaks_tls_to_the_hub_too(tmp_path):
    """The hub serving https itself and trusting its proxy: the forwarded client is found under the TLS layer."""
    import http.client

    from tests import selfsigned

    cert = selfsigned.make(tmp_path / "cert")
    env = {S.ENV_TRUSTED_PROXIES: "127.0.0.1", "SWITCHBOARD_CONNECTIONS_PER_IP": "1"}
    tls = S.Tls(cert.cert, cert.key)
    with Hub.started(tmp_path / "hub", with_components=False, env=env, tls=tls) as hub:

        def get(client):
            connection = http.client.HTTPSConnection(
                "127.0.0.1", hub.settings.port, timeout=10, context=cert.client_context()
            )
            connection.request("GET", "/info", headers={"X-Forwarded-For": client})
            response = connection.getresponse()
            return connection, response.status, response.read()

        first, status, _ = get("203.0.113.1")
        try:
            assert status == 200
            second, status, body = get("203.0.113.1")
            second.close()
            assert status == 429 and b"203.0.113.1 has 1 open connections" in body
            third, status, _ = get("203.0.113.2")
            third.close()
            assert status == 200
        finally:
            first.close()

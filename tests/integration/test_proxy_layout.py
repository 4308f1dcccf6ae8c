"""The proxy layout (SWITCHBOARD_PROXY_WORKERS, router/node/layout.py) on a real hub: two Crossbar
proxy workers own the public port, and every feature works through them: the page, /info, anonymous
and ticket sign-in, RPC with caller identity, the HTTP bridge, history, presence, retained events,
/health, /ready and /metrics."""

import http.client
import json
import urllib.request

import psutil
import pytest
from switchboard.bridge import tickets
from switchboard.bridge.signing import sign_request
from switchboard.router.client import Client, JoinError
from switchboard.router.testing.hub import Hub, wait_until

from tests.integration.bridge_http import request as bridge_request
from tests.integration.test_connection_limits import let_in, probe

PROXIES = 2


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with Hub.started(tmp_path_factory.mktemp("proxies"), proxy_workers=PROXIES) as hub:
        yield hub


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def listeners(pid: int) -> set[int]:
    return {c.laddr.port for c in psutil.Process(pid).net_connections("tcp") if c.status == psutil.CONN_LISTEN}


def test_the_proxies_own_the_public_port_and_the_router_listens_on_loopback_only(hub):
    pids = hub.node.worker_pids()
    proxies = [pid for worker, pid in pids.items() if worker.startswith("proxy")]
    assert len(proxies) == PROXIES
    assert all(hub.settings.port in listeners(pid) for pid in proxies)
    router = listeners(pids["router"])
    assert hub.settings.port not in router and hub.settings.router_web_port in router


def test_the_page_info_and_the_routers_http_services_answer_through_the_proxies(hub):
    assert get(hub.http_url)[0] == 200 and b"autobahn" in get(hub.http_url)[1].lower()
    assert b'"realm":"switchboard"' in get(hub.http_url + "info")[1]
    assert get(hub.http_url + "health")[0] == 200
    assert get(hub.http_url + "ready")[1].startswith(b'{"status":"ready"')
    with hub.client():
        text = get(hub.http_url + "metrics")[1].decode()
    assert 'switchboard_sessions{realm="switchboard",role="anonymous"' in text


def test_anonymous_and_ticket_sessions_call_with_their_identity(hub):
    with hub.client() as anonymous:
        assert anonymous.call("demo.add2", 2, 3) == 5
        assert anonymous.call("chat.post", "lobby", "hello", "ann")["author"]["session"] == anonymous.session_id
    ticket = tickets.mint(hub.ticket_secret, "42")
    with Client(hub.url, hub.realm, ticket=ticket) as user:
        assert (user.details.authid, user.details.authrole) == ("42", "user")
        assert user.call("chat.post", "lobby", "signed in", "ada")["author"]["authid"] == "42"
    with pytest.raises(JoinError) as replayed:  # single use, whichever proxy the second try lands on
        Client(hub.url, hub.realm, ticket=ticket)
    assert replayed.value.reason == "switchboard.error.ticket_replayed"


def test_the_bridge_publishes_to_a_proxied_subscriber(hub):
    with hub.client() as browser:
        events = browser.subscribe("public.proxied")
        status, _ = bridge_request(hub, "publish", {"topic": "public.proxied", "args": ["via proxy"]})
        assert status == 200
        assert events.get().args == ("via proxy",)


def test_history_presence_and_retained_events_work_through_the_proxies(hub):
    with hub.client() as poster:
        for text in ("one", "two"):
            poster.call("chat.post", "proxied-room", text, "ann")
        assert [e["args"][0]["text"] for e in poster.call("history.get", "chat.room.proxied-room")["events"]] == [
            "one",
            "two",
        ]
        watcher = poster.subscribe("presence.room.proxied")
        ada = hub.client()
        assert [m["nick"] for m in ada.call("presence.join", "proxied", "ada")] == ["ada"]
        assert watcher.get().args[0]["event"] == "join"
        ada.close()
        assert watcher.wait_for(lambda e: e.args[0]["event"] == "leave").args[0]["member"]["nick"] == "ada"
        wait_until(lambda: poster.call("presence.list", "proxied") == [], what="ada gone from presence")
    with hub.backend_client() as backend:
        backend.publish("chat.room.kept", "kept", retain=True)
    with hub.client() as late:
        assert late.subscribe("chat.room.kept", get_retained=True).get().args == ("kept",)


def publish_from(hub, source: str, topic: str) -> int:
    """One signed bridge publish from client address `source` (any 127.x.y.z is loopback)."""
    body = json.dumps({"topic": topic, "args": [source]}).encode()
    headers = {"Content-Type": "application/json"}
    headers.update(sign_request(hub.bridge_key, hub.bridge_secret, "POST", "/bridge/publish", body))
    connection = http.client.HTTPConnection("127.0.0.1", hub.settings.port, timeout=10, source_address=(source, 0))
    try:
        connection.request("POST", "/bridge/publish", body, headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_the_proxies_limit_each_client_address_and_the_router_not_their_forwarded_requests(tmp_path):
    """Each proxy holds every client address to the per-address limits; the router, whose web
    transport now takes only the proxies' forwarded requests (all from 127.0.0.1), does not."""
    env = {"SWITCHBOARD_CONNECTIONS_PER_IP": "2", "SWITCHBOARD_CONNECTS_PER_SECOND_PER_IP": "1"}  # a burst of 5
    with Hub.started(tmp_path, with_components=False, proxy_workers=1, env=env) as hub:
        sources = [f"127.0.0.{i}" for i in range(10, 50)]
        assert [publish_from(hub, source, "public.many") for source in sources] == [200] * len(sources)
        held = [probe(hub, "127.0.0.2") for _ in range(2)]
        assert all(held)
        assert not let_in(hub, source="127.0.0.2")
        assert let_in(hub, source="127.0.0.4")  # another address is unaffected
        for sock in held:
            sock.close()


def test_a_hub_without_components_is_ready_only_once_every_proxy_serves_every_path(tmp_path):
    """Crossbar starts a proxy's transport listening with `/` alone and adds `/ws` after: readiness
    waits for each proxy's own word that it serves every path (router/patches/proxyready.py)."""
    with Hub.started(tmp_path, with_components=False, proxy_workers=PROXIES) as hub:
        pids = hub.node.worker_pids()
        proxies = sorted(worker for worker in pids if worker.startswith("proxy"))
        assert len(proxies) == PROXIES
        for proxy in proxies:
            assert hub.node.proxy_marker(proxy).read_text().strip() == str(pids[proxy])
        # new connections land on either proxy: every one finds /ws and /info at once
        for _ in range(8 * PROXIES):
            with hub.client() as c:
                assert c.session_id  # joined through /ws
            assert get(hub.http_url + "info")[0] == 200

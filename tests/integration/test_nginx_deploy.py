"""The documented deployment (docs/deploy.md), for real: Debian's nginx runs docs/deploy/'s site
(free ports, a self-signed certificate made here, a 3 s proxy_read_timeout) in front of a real hub
that trusts it as a proxy. Through nginx over TLS: the page, AutobahnJS in Chromium over wss, the
admin dashboard in Chromium (signed in, listing a session by its forwarded address, its charts
moving), /metrics only with the bearer token, the HTTP bridge, an idle session outliving nginx's
read timeout thanks to the hub's pings, and the per-address connection limit counting the clients
nginx forwards, not nginx itself."""

from __future__ import annotations

import http.client
import json
import os
import time
from contextlib import ExitStack, contextmanager

import pytest
import urllib3
from switchboard.bridge.client import HubClient
from switchboard.router import settings as S
from switchboard.router.client import Client
from switchboard.router.node.process import free_port
from switchboard.router.testing.hub import Hub, wait_until

from tests import deploy_files, selfsigned
from tests.dashboard import follows_a_subscriber, signed_in_with_the_secret

#: nginx's proxy_read_timeout in this test, and the hub's WebSocket ping interval under it
READ_TIMEOUT_S = 3
PING_INTERVAL_MS = 1000
#: the stack's SWITCHBOARD_METRICS_TOKEN: through nginx, /metrics asks for it
METRICS_TOKEN = "nginx-test-metrics-token"


def nginx_or_fail():
    if deploy_files.nginx_binary() is None:
        message = "Debian nginx is not installed (make test installs it as root: apt-get install nginx)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def proxied_hub(tmp_path, cert, env=None, with_components=True):
    """A hub trusting 127.0.0.1 as its proxy, pinging every PING_INTERVAL_MS, behind the site."""
    nginx_or_fail()
    config = S.load_config(S.CONFIG_FILE)
    S.transport(config, S.WEB_TRANSPORT_ID)["paths"]["ws"]["options"]["auto_ping_interval"] = PING_INTERVAL_MS
    hub_env = {S.ENV_TRUSTED_PROXIES: "127.0.0.1", **(env or {})}
    with ExitStack() as stack:
        hub = stack.enter_context(
            Hub.started(tmp_path / "hub", env=hub_env, config=config, with_components=with_components)
        )
        port = free_port()
        site = deploy_files.render_site(
            port=port,
            redirect_port=free_port(),
            hub_port=hub.settings.port,
            cert=cert.cert,
            key=cert.key,
            read_timeout=f"{READ_TIMEOUT_S}s",
        )
        nginx = stack.enter_context(deploy_files.Nginx(tmp_path / "nginx", site, port))
        yield hub, nginx


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return selfsigned.make(tmp_path_factory.mktemp("cert"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory, cert):
    with proxied_hub(tmp_path_factory.mktemp("deploy"), cert, env={S.ENV_METRICS_TOKEN: METRICS_TOKEN}) as running:
        yield running


def base(nginx) -> str:
    return f"https://127.0.0.1:{nginx.port}/"


def test_the_page_over_https_through_nginx(stack, cert):
    hub, nginx = stack
    http = urllib3.PoolManager(ca_certs=str(cert.cert), retries=False, timeout=10)
    page = http.request("GET", base(nginx))
    assert page.status == 200 and b"<html" in page.data.lower()
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert http.request("GET", base(nginx) + S.HEALTH_PATH).json() == {"status": "alive"}


def test_metrics_through_nginx_need_the_token_and_straight_on_loopback_do_not(stack, cert):
    """The hub listens on loopback, where /metrics is open; nginx's X-Forwarded-For makes a request
    through it one from beyond loopback, whatever address nginx's own connection comes from."""
    hub, nginx = stack
    http = urllib3.PoolManager(ca_certs=str(cert.cert), retries=False, timeout=10)
    url = base(nginx) + S.METRICS_PATH
    refused = http.request("GET", url)
    assert refused.status == 401 and refused.headers["WWW-Authenticate"] == 'Bearer realm="switchboard metrics"'
    assert refused.json()["message"] == "send Authorization: Bearer <token>"
    assert http.request("GET", url, headers={"Authorization": "Bearer not-the-token"}).status == 401
    scraped = http.request("GET", url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status == 200 and b"# TYPE switchboard_sessions gauge" in scraped.data
    assert urllib3.PoolManager(retries=False, timeout=10).request("GET", hub.settings.metrics_url).status == 200


def test_plain_http_is_redirected_to_https(stack, cert):
    hub, nginx = stack
    redirect_port = _redirect_port(nginx)
    response = urllib3.PoolManager(retries=False, timeout=10).request(
        "GET", f"http://127.0.0.1:{redirect_port}/x?y=1", redirect=False
    )
    assert response.status == 301 and response.headers["Location"] == "https://127.0.0.1/x?y=1"


def _redirect_port(nginx) -> int:
    site = (nginx.directory / "site.conf").read_text()
    first_listen = site.split("listen 127.0.0.1:", 1)[1]
    return int(first_listen.split(";", 1)[0])


def test_a_wamp_session_over_wss_through_nginx_has_the_client_as_its_peer(stack, cert):
    hub, nginx = stack
    with Client(
        f"wss://127.0.0.1:{nginx.port}/ws", hub.realm, ssl=cert.client_context(), source_address="127.0.0.5"
    ) as c:
        assert c.call("demo.add2", 2, 3) == 5
        with hub.backend_client() as backend:
            peer = backend.call("wamp.session.get", c.session_id)["transport"]["peer"]
    assert peer == "tcp4:127.0.0.5"  # nginx's X-Forwarded-For, not nginx's own 127.0.0.1:PORT


def test_the_bridge_through_nginx(stack, cert):
    hub, nginx = stack
    bridge = HubClient(base(nginx) + "bridge/", hub.bridge_key, hub.bridge_secret, retries=0)
    bridge._http = urllib3.PoolManager(ca_certs=str(cert.cert), retries=False, timeout=10)  # trust the test's CA
    with hub.backend_client() as listener:
        events = listener.subscribe("deploy.news")
        result = bridge.publish("deploy.news", "through nginx")
        assert result.id
        assert events.get().args == ("through nginx",)
    assert bridge.call("demo.add2", 40, 2) == 42


def test_an_idle_session_outlives_nginxs_read_timeout(stack, cert):
    hub, nginx = stack
    with Client(f"wss://127.0.0.1:{nginx.port}/ws", hub.realm, ssl=cert.client_context()) as c:
        # idle for twice nginx's proxy_read_timeout: only the hub's pings keep upstream from falling silent
        time.sleep(2 * READ_TIMEOUT_S)  # the duration is the behaviour under test, not a synchronisation
        assert c.is_connected
        assert c.call("demo.add2", 1, 1) == 2
    assert "upstream timed out" not in nginx.error_log()


@pytest.mark.browser
def test_autobahnjs_in_chromium_over_wss_through_nginx(stack, browser):
    hub, nginx = stack
    context = browser.new_context(ignore_https_errors=True)  # the test's self-signed certificate
    try:
        page = context.new_page()
        sockets = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.goto(base(nginx))
        page.wait_for_selector('#status[data-state="online"]')
        page.fill("#add2-a", "40")
        page.fill("#add2-b", "2")
        page.click("#add2-form button")
        page.wait_for_selector('#add2-result:text("42")')
        assert sockets and all(url == f"wss://127.0.0.1:{nginx.port}/ws" for url in sockets)
    finally:
        context.close()


@pytest.mark.browser
def test_the_admin_dashboard_in_chromium_over_https_and_wss_through_nginx(stack, browser, cert):
    hub, nginx = stack
    context = browser.new_context(ignore_https_errors=True)  # the test's self-signed certificate
    try:
        page = context.new_page()
        sockets = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.goto(base(nginx) + S.DASHBOARD_PATH)
        signed_in_with_the_secret(page, hub.admin_secret)
        url = f"wss://127.0.0.1:{nginx.port}/ws"
        reader = Client(url, hub.realm, ssl=cert.client_context(), source_address="127.0.0.6")
        with reader, hub.backend_client() as publisher:
            # the session's peer is the client nginx forwarded, without a port (X-Forwarded-For has none)
            follows_a_subscriber(page, reader, publisher, "public.dashboard-nginx", "tcp4:127.0.0.6")
        assert sockets and all(ws == url for ws in sockets)
    finally:
        context.close()


def get_info(port: int, source: str, cert) -> tuple[int, dict]:
    """GET /info through nginx from `source` (a loopback address: nginx forwards it as the client)."""
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, timeout=10, context=cert.client_context(), source_address=(source, 0)
    )
    try:
        connection.request("GET", "/info", headers={"X-Forwarded-For": "192.0.2.66"})  # a spoof, never believed
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_the_per_address_limit_counts_the_forwarded_clients_not_nginx(tmp_path, cert):
    env = {"SWITCHBOARD_CONNECTIONS_PER_IP": "2", "SWITCHBOARD_CONNECTS_PER_SECOND_PER_IP": "1000"}
    with proxied_hub(tmp_path, cert, env=env, with_components=False) as (hub, nginx):
        url = f"wss://127.0.0.1:{nginx.port}/ws"

        def session(source):
            return Client(url, hub.realm, ssl=cert.client_context(), source_address=source)

        with session("127.0.0.2"), session("127.0.0.2"):
            status, body = get_info(nginx.port, "127.0.0.2", cert)
            assert status == 429 and body["error"] == "switchboard.error.limit_exceeded"
            assert body["message"] == "127.0.0.2 has 2 open connections (SWITCHBOARD_CONNECTIONS_PER_IP)"
            # another client behind the same nginx is not limited by this one's connections, and
            # the header 127.0.0.3 sent itself does not count (nginx appends the real address)
            assert get_info(nginx.port, "127.0.0.3", cert)[0] == 200
            with session("127.0.0.3"):
                pass
        wait_until(lambda: get_info(nginx.port, "127.0.0.2", cert)[0] == 200, what="127.0.0.2 let in again")
        wait_until(
            lambda: "refused 1 connection(s) from 127.0.0.2 in" in hub.log_text(),
            timeout=20,
            what="the refusal logged under the forwarded client",
        )
        assert "from 127.0.0.1 in" not in hub.log_text() and "from 192.0.2.66" not in hub.log_text()

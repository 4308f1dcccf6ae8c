"""The hub serving https and wss itself (SWITCHBOARD_TLS_CERT / SWITCHBOARD_TLS_KEY) with a
self-signed certificate made in the test: the page, /health and a WAMP session over TLS 1.3, and no
plain http on the same port."""

from __future__ import annotations

import socket
import ssl

import pytest
import urllib3
from switchboard.router import settings as S
from switchboard.router.testing.hub import Hub

from tests import selfsigned


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return selfsigned.make(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def hub(tmp_path_factory, cert):
    tls = S.Tls.from_env({S.ENV_TLS_CERT: str(cert.cert), S.ENV_TLS_KEY: str(cert.key)})
    with Hub.started(tmp_path_factory.mktemp("tls-hub"), tls=tls) as running:
        yield running


def test_the_urls_are_https_and_wss(hub):
    assert hub.http_url.startswith("https://127.0.0.1:") and hub.url.startswith("wss://127.0.0.1:")


def test_the_page_and_health_over_https(hub, cert):
    http = urllib3.PoolManager(ca_certs=str(cert.cert), retries=False, timeout=10)
    page = http.request("GET", hub.http_url)
    assert page.status == 200 and b"<html" in page.data.lower()
    health = http.request("GET", hub.http_url + S.HEALTH_PATH)
    assert health.status == 200 and health.json() == {"status": "alive"}


def test_a_wamp_session_over_wss(hub, cert):
    with hub.client(ssl=cert.client_context()) as c:
        assert c.call("demo.add2", 2, 3) == 5


def test_tls_1_3_and_no_plain_http_on_the_port(hub, cert):
    with socket.create_connection(("127.0.0.1", hub.settings.port), timeout=10) as raw:
        with cert.client_context().wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.3"  # Crossbar's listeners serve TLS 1.3 only
    with pytest.raises((urllib3.exceptions.HTTPError, ConnectionError)):
        urllib3.PoolManager(retries=False, timeout=5).request("GET", hub.http_url.replace("https:", "http:"))


def test_an_untrusted_certificate_is_refused_by_a_verifying_client(hub):
    with pytest.raises(ssl.SSLCertVerificationError):
        hub.client()  # the system's trust store does not know the self-signed certificate

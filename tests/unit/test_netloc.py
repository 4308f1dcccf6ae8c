"""URLs built from a listening address (bridge/netloc.py): an IPv6 literal in brackets (RFC 3986
section 3.2.2, zones per RFC 6874), so the hub's URLs, the CLI's and the tests' parse back to the
host and port they were built from."""

from urllib.parse import urlsplit

import pytest
from switchboard.bridge.netloc import netloc, url_host
from switchboard.router import settings as S
from switchboard.router.node.process import free_port


@pytest.mark.parametrize(
    ("host", "written"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("hub.example.com", "hub.example.com"),
        ("localhost", "localhost"),
        ("::1", "[::1]"),
        ("::", "[::]"),
        ("2001:db8::5", "[2001:db8::5]"),
        ("::ffff:127.0.0.1", "[::ffff:127.0.0.1]"),
        ("fe80::1%eth0", "[fe80::1%25eth0]"),
        ("[::1]", "[::1]"),  # already a URL's host
    ],
)
def test_an_ipv6_literal_is_bracketed_and_anything_else_left_as_it_is(host, written):
    assert url_host(host) == written
    assert netloc(host, 8080) == f"{written}:8080"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "::", "2001:db8::5", "hub.example.com"])
def test_every_url_of_the_settings_parses_back_to_its_host_and_port(host):
    settings = S.Settings.from_env({S.ENV_HOST: host, S.ENV_PORT: "9000"})
    urls = {
        "http_url": (settings.http_url, "/"),
        "ws_url": (settings.ws_url, "/ws"),
        "ready_url": (settings.ready_url, "/ready"),
        "metrics_url": (settings.metrics_url, "/metrics"),
        "dashboard_url": (settings.dashboard_url, "/admin.html"),
        "bridge_url": (settings.bridge_url, "/bridge/"),
    }
    for name, (url, path) in urls.items():
        parts = urlsplit(url)
        assert (parts.hostname, parts.port, parts.path) == (host.lower(), 9000, path), (name, url)
    assert urlsplit(settings.backend_url)[:2] == ("rs", f"127.0.0.1:{settings.backend_port}")


def test_ipv6_urls_as_the_hub_prints_them():
    settings = S.Settings.from_env({S.ENV_HOST: "::1", S.ENV_PORT: "9000"})
    assert settings.http_url == "http://[::1]:9000/"
    assert settings.ws_url == "ws://[::1]:9000/ws"
    assert settings.dashboard_url == "http://[::1]:9000/admin.html"


def test_a_free_port_on_an_ipv6_interface():
    assert 0 < free_port("::1") < 65536

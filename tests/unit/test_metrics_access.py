"""Who may read /metrics (router/services/metrics.py): anyone on this machine when the hub listens on
loopback only; beyond loopback, or through a proxy (a request naming a forwarded client), only a
request with the bearer token, and nobody when no token is set. Rendered with Twisted's test request in
a fresh interpreter (the test process runs the asyncio client)."""

from switchboard.bridge.forwarded import CLIENT_HEADERS, names_a_client

from tests.fresh_python import run_code

CASES = """
import txaio
txaio.use_twisted()
from twisted.web.test.requesthelper import DummyRequest
from switchboard.router.services.metrics import MetricsResource, create, is_loopback

def get(resource, authorization=None, method=b"GET", headers=()):
    request = DummyRequest([b""])
    request.method = method
    if authorization is not None:
        request.requestHeaders.setRawHeaders(b"authorization", [authorization])
    for name, value in headers:
        request.requestHeaders.setRawHeaders(name, [value])
    body = resource.render(request)
    return request.responseCode or 200, body

assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5") and not is_loopback("hub.example.com")

status, body = get(MetricsResource(True, None))
assert status == 200 and b"# TYPE switchboard_sessions gauge" in body, body[:300]
assert b"process_cpu_seconds_total" in body

guarded = MetricsResource(False, "s3cret-token")
status, body = get(guarded)
assert status == 401 and b"Bearer" in body, (status, body)
assert get(guarded, b"Bearer wrong")[0] == 401
status, body = get(guarded, b"Bearer s3cret-token")
assert status == 200 and b"switchboard_messages_received_total" in body, (status, body[:200])

status, body = get(MetricsResource(False, None), b"Bearer anything")
assert status == 403 and b"SWITCHBOARD_METRICS_TOKEN" in body, (status, body)
assert get(MetricsResource(True, None), method=b"POST")[0] == 405
assert get(guarded, b"bearer s3cret-token")[0] == 200  # the scheme is case-insensitive (RFC 7235)
assert get(MetricsResource(True, None), method=b"HEAD") == (200, b"")

# a loopback hub: a request naming a forwarded client came through a proxy and needs the token
for header in (b"X-Forwarded-For", b"x-real-ip", b"Forwarded"):
    status, body = get(MetricsResource(True, None), headers=[(header, b"203.0.113.5")])
    assert status == 403, (header, status, body)
    assert b"came through a proxy" in body and b"SWITCHBOARD_METRICS_TOKEN is not set" in body, body
    loopback = MetricsResource(True, "s3cret-token")
    status, body = get(loopback, headers=[(header, b"127.0.0.1")])  # whatever address it names
    assert status == 401 and b"send Authorization: Bearer <token>" in body, (header, status, body)
    assert get(loopback, b"Bearer wrong", headers=[(header, b"for=192.0.2.1")])[0] == 401
    assert get(loopback, b"Bearer s3cret-token", headers=[(header, b"203.0.113.5")])[0] == 200
assert get(MetricsResource(True, "s3cret-token"))[0] == 200  # straight from this machine: no token needed
assert get(MetricsResource(True, None), headers=[(b"X-Forwarded-Proto", b"https")])[0] == 200  # names no client

assert create({"interface": "127.0.0.1"}).open_access and create({"interface": "::1"}).open_access
assert not create({"interface": "0.0.0.0"}).open_access
assert not create({}).open_access  # no interface given: the token is asked for
"""


def test_metrics_access_by_interface_and_token():
    run_code(CASES)


def test_which_headers_name_a_forwarded_client():
    assert CLIENT_HEADERS == ("X-Forwarded-For", "X-Real-IP", "Forwarded")
    assert names_a_client(["Host", "X-Forwarded-For"]) == "X-Forwarded-For"
    assert names_a_client(["host", "x-real-ip", "forwarded"]) == "X-Real-IP"  # names compare in any case
    assert names_a_client(["FORWARDED"]) == "Forwarded"
    assert names_a_client(["Host", "X-Forwarded-Proto", "X-Forwarded-Host", "Authorization"]) is None
    assert names_a_client([]) is None

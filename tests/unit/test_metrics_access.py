"""Who may read /metrics (router/services/metrics.py): anyone when the hub listens on loopback only;
beyond loopback, only a request with the bearer token, and nobody when no token is set. Rendered with
Twisted's test request in a fresh interpreter (the test process runs the asyncio client)."""

from tests.fresh_python import run_code

CASES = """
import txaio
txaio.use_twisted()
from twisted.web.test.requesthelper import DummyRequest
from switchboard.router.services.metrics import MetricsResource, create, is_loopback

def get(resource, authorization=None, method=b"GET"):
    request = DummyRequest([b""])
    request.method = method
    if authorization is not None:
        request.requestHeaders.setRawHeaders(b"authorization", [authorization])
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

assert create({"interface": "127.0.0.1"}).open_access and create({"interface": "::1"}).open_access
assert not create({"interface": "0.0.0.0"}).open_access
assert not create({}).open_access  # no interface given: the token is asked for
"""


def test_metrics_access_by_interface_and_token():
    run_code(CASES)

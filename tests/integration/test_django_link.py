"""WAMP into Django, router side: forwarded topics and django.<name> calls become signed POSTs.

The Django end here is a small real HTTP server speaking the documented contract and verifying
signatures with switchboard.bridge.signing; tests/django/ runs the same flows against real Django.
"""

import json
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import tickets
from switchboard.bridge.signing import SignatureError, Verifier
from switchboard.router.client import Client
from switchboard.router.node.process import free_port
from switchboard.router.testing.hub import Hub


class FakeDjango:
    """Answers /switchboard/rpc/<name>/ and /switchboard/events/ like the Django app does."""

    def __init__(self, key, secret, port):
        self.verifier = Verifier({key: secret})
        self.events: queue.Queue = queue.Queue()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    outer.verifier.verify("POST", self.path, self.headers, body)
                except SignatureError as e:
                    return self.answer(401, {"error": "switchboard.error.unauthorized", "reason": e.reason})
                data = json.loads(body)
                if self.path == "/switchboard/events/":
                    outer.events.put(data)
                    return self.answer(204, None)
                name = self.path[len("/switchboard/rpc/") :].rstrip("/")
                if name == "greet":
                    return self.answer(200, {"result": f"hello {data['args'][0]} from {data['caller']['authid']}"})
                if name == "refuse":
                    return self.answer(422, {"error": "app.error.refused", "args": ["no"], "kwargs": {"why": "test"}})
                return self.answer(404, {"error": "not found"})

            def answer(self, status, payload):
                raw = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("linked")
    port = free_port()
    hub = Hub(
        workdir,
        with_components=False,
        env={
            "SWITCHBOARD_DJANGO_URL": f"http://127.0.0.1:{port}/switchboard",
            "SWITCHBOARD_FORWARD_TOPICS": "django.events., other.forwarded.",
        },
    )
    hub.node.prepare()  # secrets exist before the fake Django needs them
    django = FakeDjango(hub.bridge_key, hub.bridge_secret, port)
    hub.start()
    yield hub, django
    hub.stop()
    django.stop()


def test_django_procedure_gets_the_caller(linked):
    hub, _ = linked
    with Client(hub.url, hub.realm, ticket=tickets.mint(hub.ticket_secret, "42")) as user:
        assert user.call("django.greet", "ada") == "hello ada from 42"


def test_django_errors_become_wamp_errors(linked):
    hub, _ = linked
    with hub.client() as c:
        with pytest.raises(ApplicationError) as info:
            c.call("django.refuse")
        assert (info.value.error, info.value.args, info.value.kwargs) == ("app.error.refused", ("no",), {"why": "test"})
        with pytest.raises(ApplicationError) as info:
            c.call("django.missing")
        assert info.value.error == "wamp.error.no_such_procedure"


def test_browser_events_are_forwarded_signed_with_the_publisher(linked):
    hub, django = linked
    with hub.client() as c:
        c.publish("django.events.clicked", {"button": "save"}, n=1)
        event = django.events.get(timeout=10)
    assert event["topic"] == "django.events.clicked"
    assert event["args"] == [{"button": "save"}] and event["kwargs"] == {"n": 1}
    assert event["publisher"]["authid"] == c.details.authid and event["publisher"]["authrole"] == "anonymous"


def test_forwarded_events_keep_their_order(linked):
    hub, django = linked
    with hub.backend_client() as c:  # anonymous may publish only django.events.*
        for i in range(20):
            c.publish("other.forwarded.seq", i)
        assert [django.events.get(timeout=10)["args"][0] for _ in range(20)] == list(range(20))


def test_django_down_is_a_clear_error(linked):
    hub, django = linked
    django.stop()
    with hub.client() as c:
        with pytest.raises(ApplicationError) as info:
            c.call("django.greet", "x")
    assert info.value.error == "switchboard.error.unavailable"

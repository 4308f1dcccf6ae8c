"""The hub-facing views (signed events/ and rpc/), the ticket view and the template tag."""

import json
import queue
import time

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from switchboard.bridge import tickets
from switchboard.bridge.django import RPCError, procedure, rpc
from switchboard.bridge.django.models import OutboxEvent
from switchboard.bridge.django.signals import event_received

from tests.django.helpers import signed_post

pytestmark = pytest.mark.django_db(transaction=True)

KEY, SECRET = "django", "placeholder-bridge-secret"
EVENTS, RPC = "/switchboard/events/", "/switchboard/rpc/{}/"


def post(client, path, payload, **kwargs):
    return signed_post(client, path, payload, key=kwargs.pop("key", KEY), secret=kwargs.pop("secret", SECRET), **kwargs)


@pytest.fixture
def received():
    events = queue.Queue()

    def receiver(sender, **kwargs):
        events.put(kwargs)

    event_received.connect(receiver, weak=False, dispatch_uid="test-receiver")
    yield events
    event_received.disconnect(dispatch_uid="test-receiver")


@pytest.fixture(autouse=True)
def test_procedures():
    @procedure("test.whoami")
    def whoami(call, *args, **kwargs):
        return {
            "authid": call.authid,
            "authrole": call.authrole,
            "session": call.session,
            "user": call.user.get_username() or None,
            "args": list(args),
            "kwargs": kwargs,
            "procedure": call.procedure,
        }

    @procedure("test.fail")
    def fail(call, code):
        OutboxEvent.objects.create(topic="t.rolled.back")
        raise RPCError("app.error.failed", code, detail="x")

    @procedure("test.crash")
    def crash(call):
        raise KeyError("secret internals")

    @procedure("test.object")
    def unserialisable(call):
        return object()

    @procedure("test.two")
    def two(call, a, b=2):
        return a + b

    yield
    for name in ("test.whoami", "test.fail", "test.crash", "test.object", "test.two"):
        rpc.unregister(name)


# -- events/ -----------------------------------------------------------------------------------


def test_signed_event_reaches_the_signal(client, received):
    payload = {
        "topic": "django.events.ping",
        "args": [1],
        "kwargs": {"a": 2},
        "publisher": {"session": 42, "authid": "7", "authrole": "user"},
    }
    response = post(client, EVENTS, payload)
    assert response.status_code == 200, response.content
    assert received.get_nowait() == {
        "signal": event_received,
        "topic": "django.events.ping",
        "args": [1],
        "kwargs": {"a": 2},
        "publisher": {"session": 42, "authid": "7", "authrole": "user"},
    }


@pytest.mark.parametrize("path", [EVENTS, RPC.format("test.whoami")])
@pytest.mark.parametrize(
    "tamper, reason",
    [
        (lambda h: h.clear(), "unsigned"),
        (lambda h: h.update({"X-Switchboard-Signature": "0" * 64}), "bad_signature"),
        (lambda h: h.update({"X-Switchboard-Key": "other"}), "unknown_key"),
        (lambda h: h.update({"X-Switchboard-Timestamp": str(int(time.time()) - 3600)}), "stale_timestamp"),
    ],
)
def test_bad_signatures_are_401(client, received, path, tamper, reason):
    response = post(client, path, {"topic": "django.events.x"}, tamper=tamper)
    assert response.status_code == 401
    assert response.json()["error"] == "switchboard.error.unauthorized"
    assert response.json()["reason"] == reason
    assert received.empty()


def test_wrong_secret_is_401(client):
    response = post(client, EVENTS, {"topic": "django.events.x"}, secret="not-the-secret")
    assert response.status_code == 401 and response.json()["reason"] == "bad_signature"


def test_a_replayed_request_is_401(client, received):
    body = json.dumps({"topic": "django.events.x"}).encode()
    from switchboard.bridge.signing import sign_request

    headers = sign_request(KEY, SECRET, "POST", EVENTS, body)
    first = client.post(EVENTS, data=body, content_type="application/json", headers=headers)
    again = client.post(EVENTS, data=body, content_type="application/json", headers=headers)
    assert first.status_code == 200
    assert again.status_code == 401 and again.json()["reason"] == "replayed"
    assert received.qsize() == 1


def test_body_for_another_path_does_not_verify(client):
    body = json.dumps({"topic": "django.events.x"}).encode()
    from switchboard.bridge.signing import sign_request

    headers = sign_request(KEY, SECRET, "POST", RPC.format("test.whoami"), body)
    response = client.post(EVENTS, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 401


def test_events_needs_post_and_json(client):
    assert client.get(EVENTS).status_code == 405
    response = post(client, EVENTS, None, raw=b"{not json")
    assert response.status_code == 400 and response.json()["error"] == "switchboard.error.bad_request"
    assert post(client, EVENTS, {"args": []}).status_code == 400  # no topic


def test_csrf_is_not_required_for_signed_endpoints():
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert post(strict, EVENTS, {"topic": "django.events.x"}).status_code == 200


def test_a_failing_receiver_rolls_back_and_answers_500(client):
    def receiver(sender, **kwargs):
        OutboxEvent.objects.create(topic="t.from.receiver")
        raise RuntimeError("receiver bug")

    event_received.connect(receiver, weak=False, dispatch_uid="failing")
    client.raise_request_exception = False
    try:
        response = post(client, EVENTS, {"topic": "django.events.x"})
    finally:
        event_received.disconnect(dispatch_uid="failing")
    assert response.status_code == 500  # the hub retries
    assert not OutboxEvent.objects.filter(topic="t.from.receiver").exists()


# -- rpc/<name>/ -------------------------------------------------------------------------------


def test_call_passes_args_kwargs_and_caller(client):
    payload = {
        "procedure": "django.test.whoami",
        "args": [1, "two"],
        "kwargs": {"k": 3},
        "caller": {"session": 9, "authid": None, "authrole": "anonymous"},
    }
    response = post(client, RPC.format("test.whoami"), payload)
    assert response.status_code == 200
    assert response.json() == {
        "result": {
            "authid": None,
            "authrole": "anonymous",
            "session": 9,
            "user": None,
            "args": [1, "two"],
            "kwargs": {"k": 3},
            "procedure": "django.test.whoami",
        }
    }


def test_call_from_a_signed_in_user_has_the_django_user(client, django_user_model):
    user = django_user_model.objects.create_user("ann", password="pw")
    payload = {"args": [], "caller": {"session": 1, "authid": str(user.pk), "authrole": "user"}}
    result = post(client, RPC.format("test.whoami"), payload).json()["result"]
    assert result["user"] == "ann" and result["authid"] == str(user.pk)


@pytest.mark.parametrize(
    "caller",
    [
        {"authid": "999999", "authrole": "user"},  # no such user
        {"authid": "not-a-number", "authrole": "user"},  # not a pk
        {"authid": "1", "authrole": "anonymous"},  # authid of another role is not a Django user
    ],
)
def test_call_user_is_anonymous_unless_a_signed_in_user(client, django_user_model, caller):
    django_user_model.objects.create_user("first", password="pw")
    result = post(client, RPC.format("test.whoami"), {"caller": caller}).json()["result"]
    assert result["user"] is None


def test_rpc_error_maps_to_the_error_uri_and_rolls_back(client):
    response = post(client, RPC.format("test.fail"), {"args": [17]})
    assert response.status_code == 422
    assert response.json() == {"error": "app.error.failed", "args": [17], "kwargs": {"detail": "x"}}
    assert not OutboxEvent.objects.filter(topic="t.rolled.back").exists()


def test_unknown_procedure_is_404(client):
    response = post(client, RPC.format("nope"), {})
    assert response.status_code == 404 and response.json()["error"] == "wamp.error.no_such_procedure"


def test_wrong_arguments_are_invalid_argument(client):
    response = post(client, RPC.format("test.two"), {"args": [], "kwargs": {"c": 1}})
    assert response.status_code == 400 and response.json()["error"] == "wamp.error.invalid_argument"
    assert post(client, RPC.format("test.two"), {"args": [40], "kwargs": {"b": 2}}).json() == {"result": 42}


def test_a_crash_is_a_runtime_error_without_internals(client):
    response = post(client, RPC.format("test.crash"), {})
    assert response.status_code == 500
    assert response.json()["error"] == "wamp.error.runtime_error"
    assert "secret internals" not in response.content.decode()


def test_a_result_json_cannot_carry_is_a_runtime_error(client):
    response = post(client, RPC.format("test.object"), {})
    assert response.status_code == 500 and "not JSON" in response.json()["args"][0]


def test_procedure_names_are_checked():
    with pytest.raises(ValueError, match="must match"):
        procedure("Django.Greet")
    with pytest.raises(ValueError, match="already registered"):
        procedure("test.two")(lambda call: None)


# -- ticket/ -----------------------------------------------------------------------------------


def test_ticket_for_a_signed_in_user(client, django_user_model, settings):
    user = django_user_model.objects.create_user("ann", password="pw")
    client.force_login(user)
    before = time.time()
    response = client.get("/switchboard/ticket/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert data["authid"] == str(user.pk)
    payload = tickets.verify(settings.SWITCHBOARD["TICKET_SECRET"], data["ticket"])
    assert payload["sub"] == str(user.pk)
    assert data["expires"] == payload["exp"] and before + 59 <= payload["exp"] <= time.time() + 61
    assert client.get("/switchboard/ticket/").json()["ticket"] != data["ticket"]  # fresh every time


def test_no_ticket_for_anonymous_users(client):
    response = client.get("/switchboard/ticket/")
    assert response.status_code == 200 and response.json() == {"ticket": None}
    assert response["Cache-Control"] == "no-store"


def test_ticket_ttl_setting(client, django_user_model, settings):
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "TICKET_TTL": 10}
    client.force_login(django_user_model.objects.create_user("ann", password="pw"))
    payload = tickets.verify(settings.SWITCHBOARD["TICKET_SECRET"], client.get("/switchboard/ticket/").json()["ticket"])
    assert payload["exp"] - payload["iat"] == 10


class _EmailKeyedUser:
    """A signed-in user of a site whose primary key is an e-mail address (not one URI component)."""

    is_authenticated, is_active, pk = True, True, "ann@example.com"


def test_a_user_whose_pk_cannot_be_an_authid_gets_a_clear_422(caplog):
    from switchboard.bridge.django import views

    request = RequestFactory().get("/switchboard/ticket/")
    request.user = _EmailKeyedUser()
    response = views.ticket(request)
    assert response.status_code == 422 and response["Cache-Control"] == "no-store"
    body = json.loads(response.content)
    assert body["error"] == "switchboard.error.invalid_authid"
    assert "pk" in body["args"][0] and "A-Z a-z 0-9 _ -" in body["args"][0] and "ann@example.com" in body["args"][0]
    assert any("no hub ticket" in r.getMessage() for r in caplog.records), "the site's operator is told too"


def test_ticket_view_needs_get(client):
    assert client.post("/switchboard/ticket/").status_code in (403, 405)  # CSRF or method


# -- template tag ------------------------------------------------------------------------------


def test_switchboard_scripts_tag(django_user_model):
    request = RequestFactory().get("/")
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    html = Template("{% load switchboard %}{% switchboard_scripts %}").render(Context({"request": request}))
    assert '<script src="http://127.0.0.1:9/vendor/autobahn.min.js"></script>' in html
    assert '<script src="http://127.0.0.1:9/recovery.js"></script>' in html
    assert '<script src="http://127.0.0.1:9/switchboard.js"></script>' in html
    start = html.index(">", html.index('id="switchboard-config"')) + 1
    config = json.loads(html[start : html.index("</script>", start)])
    assert config == {
        "url": "ws://127.0.0.1:9/ws",
        "realm": "switchboard",
        "ticketUrl": "/switchboard/ticket/",
        "signedIn": False,
        "authid": None,
    }

    request.user = django_user_model.objects.create_user("ann", password="pw")
    html = Template("{% load switchboard %}{% switchboard_scripts %}").render(Context({"request": request}))
    assert '"signedIn": true' in html and f'"authid": "{request.user.pk}"' in html

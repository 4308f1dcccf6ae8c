"""Least privilege: anonymous browsers may call the public procedures and subscribe to the public
topics, nothing else; the backend role is only reachable on the RawSocket transport with its secret."""

import pytest
from autobahn.wamp.exception import ApplicationError
from switchboard.router.client import Client, JoinError

NOT_AUTHORIZED = "wamp.error.not_authorized"


def denied(fn, *args, **kwargs):
    with pytest.raises(ApplicationError) as info:
        fn(*args, **kwargs)
    return info.value.error


@pytest.mark.parametrize("procedure", ["demo.add3", "chat.history", "my.procedure", "presence.kick"])
def test_anonymous_cannot_register(switchboard_client, procedure):
    assert denied(switchboard_client.register, procedure, lambda: None) == NOT_AUTHORIZED


def test_anonymous_cannot_take_over_a_component_procedure(switchboard_client):
    # not "already exists": a refusal must not tell which procedures there are (router/patches/dealer_order.py)
    assert denied(switchboard_client.register, "demo.add2", lambda: None) == NOT_AUTHORIZED


@pytest.mark.parametrize(
    "topic", ["chat.room.lobby", "clock.tick", "presence.room.lobby", "presence.sync", "any.topic"]
)
def test_anonymous_cannot_publish(switchboard_client, topic):
    assert denied(switchboard_client.publish, topic, {"forged": True}) == NOT_AUTHORIZED


@pytest.mark.parametrize(
    "procedure", ["wamp.session.list", "wamp.session.kill", "wamp.registration.lookup", "wamp.subscription.list"]
)
def test_anonymous_cannot_call_meta_procedures(switchboard_client, procedure):
    assert denied(switchboard_client.call, procedure) == NOT_AUTHORIZED


@pytest.mark.parametrize("procedure", ["presence.secret", "chat.delete", "other.thing"])
def test_anonymous_cannot_call_other_procedures(switchboard_client, procedure):
    assert denied(switchboard_client.call, procedure) == NOT_AUTHORIZED


@pytest.mark.parametrize("topic", ["wamp.session.on_join", "wamp.session.on_leave", "demo.add2", "private.topic"])
def test_anonymous_cannot_subscribe_elsewhere(switchboard_client, topic):
    assert denied(switchboard_client.subscribe, topic) == NOT_AUTHORIZED


def test_browsers_cannot_become_backend_over_websocket(switchboard_hub):
    with pytest.raises(JoinError) as info:
        Client(switchboard_hub.url, switchboard_hub.realm, authid="backend", secret=switchboard_hub.backend_secret)
    assert info.value.reason == "wamp.error.no_auth_method"


def test_backend_transport_refuses_a_wrong_secret_and_anonymous(switchboard_hub):
    with pytest.raises(JoinError) as info:
        Client(switchboard_hub.backend_url, switchboard_hub.realm, authid="backend", secret="wrong")
    assert info.value.reason == "wamp.error.not_authorized"
    with pytest.raises(JoinError) as info:
        Client(switchboard_hub.backend_url, switchboard_hub.realm)
    assert info.value.reason == "wamp.error.no_auth_method"


def test_backend_may_use_the_meta_api(switchboard_hub):
    with switchboard_hub.backend_client() as backend:
        assert backend.call("wamp.registration.lookup", "demo.add2") is not None
        assert backend.call("wamp.session.count") >= 1

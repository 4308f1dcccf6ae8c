"""Browser sign-in with Django-minted tickets, and private user topics (role `user`)."""

import time

import jwt
import pytest
from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import tickets
from switchboard.router.client import Client, JoinError


def login(hub, authid, **kwargs):
    return Client(hub.url, hub.realm, ticket=tickets.mint(hub.ticket_secret, authid, **kwargs))


def refused(hub, ticket):
    with pytest.raises(JoinError) as info:
        Client(hub.url, hub.realm, ticket=ticket)
    return info.value


def test_a_ticket_gives_the_django_user_id_and_role_user(switchboard_hub):
    with login(switchboard_hub, "42", extra={"username": "ada"}) as c:
        assert (c.details.authid, c.details.authrole) == ("42", "user")
        assert c.call("demo.add2", 1, 2) == 3  # the public surface still works
        assert c.call("chat.post", "lobby", "signed in", "ada")["author"]["authid"] == "42"


def test_expired_forged_and_replayed_tickets_are_refused_with_their_reason(switchboard_hub):
    expired = tickets.mint(switchboard_hub.ticket_secret, "42", ttl=30, now=time.time() - 60)
    assert refused(switchboard_hub, expired).reason == "switchboard.error.ticket_expired"
    assert (
        refused(switchboard_hub, tickets.mint("not-the-secret-but-32-bytes-long-anyway", "42")).reason
        == "switchboard.error.ticket_invalid"
    )
    assert refused(switchboard_hub, "garbage").reason == "switchboard.error.ticket_invalid"
    ticket = tickets.mint(switchboard_hub.ticket_secret, "42")
    Client(switchboard_hub.url, switchboard_hub.realm, ticket=ticket).close()
    replay = refused(switchboard_hub, ticket)
    assert replay.reason == "switchboard.error.ticket_replayed" and "fresh" in replay.message


def test_users_receive_only_their_own_private_events(switchboard_hub):
    with (
        login(switchboard_hub, "1") as alice,
        login(switchboard_hub, "2") as bob,
        switchboard_hub.backend_client() as backend,
    ):
        alice_inbox = alice.subscribe("user.1.notifications")
        bob_inbox = bob.subscribe("user.2.", match="prefix")
        for topic, match in [
            ("user.1.notifications", None),
            ("user.1.", "prefix"),
            ("user.", "prefix"),
            ("user..notifications", "wildcard"),
        ]:
            with pytest.raises(ApplicationError) as info:
                bob.subscribe(topic, match=match)
            assert info.value.error == "wamp.error.not_authorized", topic
        backend.publish("user.1.notifications", {"for": "alice"})
        backend.publish("user.2.notifications", {"for": "bob"})
        assert alice_inbox.get().args[0] == {"for": "alice"}
        assert bob_inbox.get().args[0] == {"for": "bob"}
        assert bob_inbox.events.empty() and alice_inbox.events.empty()


def test_users_may_not_publish_or_register(switchboard_hub):
    with login(switchboard_hub, "7") as c:
        for action in (
            lambda: c.publish("user.7.notifications", 1),
            lambda: c.register("user.7.x", lambda: 1),
            lambda: c.call("wamp.session.list"),
        ):
            with pytest.raises(ApplicationError) as info:
                action()
            assert info.value.error == "wamp.error.not_authorized"


def test_anonymous_cannot_read_private_topics(switchboard_client):
    with pytest.raises(ApplicationError) as info:
        switchboard_client.subscribe("user.1.notifications")
    assert info.value.error == "wamp.error.not_authorized"


def forged(secret, **payload):
    """A correctly signed ticket whose payload is written by hand (mint refuses bad subs)."""
    now = int(time.time())
    fields = {
        "iat": now,
        "exp": now + 60,
        "jti": f"forged-{time.monotonic_ns()}",
        "aud": tickets.AUDIENCE,
        "extra": {},
        **payload,
    }
    return jwt.encode(fields, secret, algorithm=tickets.ALGORITHM)


def test_a_sub_with_a_dot_cannot_reach_another_users_private_topics(switchboard_hub):
    ticket = forged(switchboard_hub.ticket_secret, sub="1.notes")
    try:
        with Client(switchboard_hub.url, switchboard_hub.realm, ticket=ticket) as c:
            with pytest.raises(ApplicationError):
                c.subscribe("user.1.notes.x")
            with pytest.raises(ApplicationError):
                c.call("history.get", "user.1.notes.x")
    except JoinError as e:
        assert e.reason == "switchboard.error.ticket_invalid"
    assert (
        refused(switchboard_hub, forged(switchboard_hub.ticket_secret, sub="1.notes")).reason
        == "switchboard.error.ticket_invalid"
    )


@pytest.mark.parametrize("sub", [42, ["1"], {"id": "1"}, True, "a b", "1#2", ""])
def test_a_signed_ticket_with_a_bad_sub_is_aborted_not_left_hanging(switchboard_hub, sub):
    started = time.monotonic()
    with pytest.raises(JoinError) as info:
        Client(
            switchboard_hub.url,
            switchboard_hub.realm,
            ticket=forged(switchboard_hub.ticket_secret, sub=sub),
            timeout=10,
        )
    assert info.value.reason == "switchboard.error.ticket_invalid"
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    "field, value", [("jti", ["x"]), ("jti", 7), ("extra", ["x"]), ("extra", "x"), ("exp", 1e20), ("iat", None)]
)
def test_a_signed_ticket_with_mistyped_fields_is_aborted(switchboard_hub, field, value):
    with pytest.raises(JoinError) as info:
        Client(
            switchboard_hub.url,
            switchboard_hub.realm,
            ticket=forged(switchboard_hub.ticket_secret, sub="5", **{field: value}),
            timeout=10,
        )
    assert info.value.reason == "switchboard.error.ticket_invalid"

"""The dashboard's sign-in and procedures (role `admin`, router/services/admin.py) on a real hub: the
admin secret or an admin ticket gets role admin; anonymous and user sessions reach none of it."""

import pytest
from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import tickets
from switchboard.router.client import Client, JoinError
from switchboard.router.services import admin_stats as A
from switchboard.router.testing.hub import wait_until

NOT_AUTHORIZED = "wamp.error.not_authorized"
#: every procedure the admin role may call, with arguments it takes
ADMIN_CALLS = [
    ("wamp.session.list", ()),
    ("wamp.session.get", (1,)),
    ("wamp.session.kill", (1,)),
    ("wamp.registration.list", ()),
    ("wamp.registration.get", (1,)),
    ("wamp.registration.count_callees", (1,)),
    (A.STATS, ()),
    (A.SINCE, ([1],)),
]


def user(hub, authid="42", **kwargs):
    return Client(hub.url, hub.realm, ticket=tickets.mint(hub.ticket_secret, authid, **kwargs))


def denied(client, procedure, args):
    with pytest.raises(ApplicationError) as info:
        client.call(procedure, *args)
    return info.value.error


@pytest.mark.parametrize("procedure, args", ADMIN_CALLS)
def test_anonymous_and_user_sessions_cannot_reach_the_admin_procedures(switchboard_hub, procedure, args):
    with switchboard_hub.client() as anonymous, user(switchboard_hub) as signed_in:
        assert denied(anonymous, procedure, args) == NOT_AUTHORIZED
        assert denied(signed_in, procedure, args) == NOT_AUTHORIZED


def test_the_admin_role_may_call_nothing_else(switchboard_hub):
    with switchboard_hub.admin_client() as admin:
        assert (admin.details.authid, admin.details.authrole) == ("admin", "admin")
        for procedure in ("wamp.session.kill_by_authrole", "wamp.subscription.remove_subscriber", "demo.add2"):
            assert denied(admin, procedure, ("anonymous",)) == NOT_AUTHORIZED
        with pytest.raises(ApplicationError) as info:
            admin.publish("public.notes", 1)
        assert info.value.error == NOT_AUTHORIZED


def test_the_admin_secret_signs_in_again_and_again_a_near_miss_never(switchboard_hub):
    for _ in range(2):
        with switchboard_hub.admin_client() as admin:
            assert admin.details.authrole == "admin"
    with pytest.raises(JoinError) as info:
        Client(switchboard_hub.url, switchboard_hub.realm, ticket=switchboard_hub.admin_secret[:-1])
    assert info.value.reason == tickets.INVALID


def test_a_ticket_with_role_admin_signs_in_as_its_user_with_role_admin(switchboard_hub):
    with user(switchboard_hub, "7", role=tickets.ADMIN_ROLE) as staff:
        assert (staff.details.authid, staff.details.authrole) == ("7", "admin")
        assert staff.call(A.STATS)["sessions"]["by_role"]["admin"] >= 1


def test_stats_count_each_topics_publications_and_sessions_by_role(switchboard_hub):
    with switchboard_hub.admin_client() as admin, switchboard_hub.client() as reader:
        reader.subscribe("public.admin-stats")

        def topic():
            found = [t for t in admin.call(A.STATS)["topics"] if t["uri"] == "public.admin-stats"]
            return found[0] if found else None

        before = admin.call(A.STATS)
        assert topic() == {**topic(), "subscribers": 1, "publications": 0, "match": "exact"}
        with switchboard_hub.backend_client() as backend:
            for i in range(3):
                backend.publish("public.admin-stats", i)
        wait_until(lambda: topic()["publications"] == 3, what="3 publications counted")
        after = admin.call(A.STATS)
        assert after["deliveries"] >= before["deliveries"] + 3
        assert after["publications"] >= before["publications"] + 3
        assert after["sessions"]["by_role"]["anonymous"] >= 1 and after["time"] > before["time"]
        assert not [t for t in after["topics"] if t["uri"].startswith("wamp.")]


def test_since_gives_join_times_of_joined_sessions_and_refuses_junk(switchboard_hub):
    with switchboard_hub.admin_client() as admin, switchboard_hub.client() as other:
        joined = admin.call(A.SINCE, [other.session_id, admin.session_id, 12345])
        assert set(joined) == {str(other.session_id), str(admin.session_id)}
        assert joined[str(other.session_id)] >= joined[str(admin.session_id)] - 1
        for junk in ("1", [True], ["1"], list(range(A.MAX_SINCE + 1))):
            assert denied(admin, A.SINCE, (junk,)) == "switchboard.error.invalid_argument"


def test_an_admin_kicks_a_session(switchboard_hub):
    with switchboard_hub.admin_client() as admin, switchboard_hub.client() as victim:
        assert victim.session_id in admin.call("wamp.session.list")
        admin.call("wamp.session.kill", victim.session_id, reason="switchboard.admin.kicked", message="test")
        wait_until(lambda: not victim.is_connected, what="the kicked session closed")
        assert victim.session_id not in admin.call("wamp.session.list")

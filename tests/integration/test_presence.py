"""Presence: joins and leaves, including a client killed without a goodbye."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from autobahn.wamp.exception import ApplicationError

from components import errors


def test_join_list_and_leave_on_close(switchboard_hub):
    with switchboard_hub.client() as watcher:
        events = watcher.subscribe("presence.room.p1")
        ada = switchboard_hub.client()
        members = ada.call("presence.join", "p1", "ada")
        assert [m["nick"] for m in members] == ["ada"]
        joined = events.get()
        assert joined.args[0]["event"] == "join" and joined.args[0]["member"]["id"] == f"session:{ada.session_id}"
        assert [m["id"] for m in watcher.call("presence.list", "p1")] == [f"session:{ada.session_id}"]
        ada.close()
        left = events.get()
        assert left.args[0]["event"] == "leave" and left.args[0]["member"] == joined.args[0]["member"]
        assert watcher.call("presence.list", "p1") == []


def test_explicit_leave(switchboard_hub):
    with switchboard_hub.client() as c:
        events = c.subscribe("presence.room.p2")
        c.call("presence.join", "p2", "bo")
        assert events.get().args[0]["event"] == "join"
        assert c.call("presence.leave", "p2") is True
        assert events.get().args[0]["event"] == "leave"
        assert c.call("presence.leave", "p2") is False


def test_killed_client_leaves(switchboard_hub):
    script = textwrap.dedent(f"""
        import sys, time
        from router.client import Client
        c = Client({switchboard_hub.url!r}, {switchboard_hub.realm!r})
        c.call("presence.join", "p3", "doomed")
        print(c.session_id, flush=True)
        time.sleep(600)
    """)
    with switchboard_hub.client() as watcher:
        events = watcher.subscribe("presence.room.p3")
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            session = int(child.stdout.readline())
            assert events.get().args[0]["member"]["id"] == f"session:{session}"
            os.kill(child.pid, signal.SIGKILL)
            left = events.get(timeout=15)
        finally:
            child.kill()
            child.wait()
    assert left.args[0] == {"event": "leave", "room": "p3",
                            "member": {"id": f"session:{session}", "nick": "doomed", "authid": None}}
    assert switchboard_hub.client().call("presence.list", "p3") == []


def test_tabs_of_one_browser_count_once(switchboard_hub):
    client = "browser-0123456789"
    with switchboard_hub.client() as watcher, switchboard_hub.backend_client() as backend, \
            switchboard_hub.client() as tab1, switchboard_hub.client() as tab2:
        events = watcher.subscribe("presence.room.p4")
        session_ends = backend.subscribe("wamp.session.on_leave")
        tab1.call("presence.join", "p4", "pat", client)
        assert events.get().args[0]["member"]["id"] == f"client:{client}"
        assert len(tab2.call("presence.join", "p4", "pat", client)) == 1
        gone = tab1.session_id
        tab1.close()
        # The presence service got the same meta event before it gets our next call.
        session_ends.wait_for(lambda e: e.args[0] == gone)
        assert [m["nick"] for m in watcher.call("presence.list", "p4")] == ["pat"], "one tab closed: still here"
        assert tab2.call("presence.leave", "p4") is True
        assert events.get().args[0]["event"] == "leave"
        assert watcher.call("presence.list", "p4") == []
        assert events.events.empty(), "one join and one leave for the person, none per tab"


def test_a_signed_in_user_counts_once_across_sessions(switchboard_hub):
    from bridge import tickets
    from router.client import Client

    def login():
        return Client(switchboard_hub.url, switchboard_hub.realm, ticket=tickets.mint(switchboard_hub.ticket_secret, "77"))

    with switchboard_hub.client() as watcher, login() as a, login() as b:
        a.call("presence.join", "p5", "ann")
        b.call("presence.join", "p5", "ann")
        assert watcher.call("presence.list", "p5") == [{"id": "user:77", "nick": "ann", "authid": "77"}]


@pytest.mark.parametrize("args, uri", [(("Bad Room", "x"), errors.INVALID_ROOM), (("ok", ""), errors.INVALID_NICK),
                                       (("ok", "x", "short"), errors.INVALID_ARGUMENT)])
def test_presence_bad_input(switchboard_client, args, uri):
    with pytest.raises(ApplicationError) as info:
        switchboard_client.call("presence.join", *args)
    assert info.value.error == uri

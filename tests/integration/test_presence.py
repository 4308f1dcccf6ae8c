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
        assert joined.args[0]["event"] == "join" and joined.args[0]["member"]["session"] == ada.session_id
        assert [m["session"] for m in watcher.call("presence.list", "p1")] == [ada.session_id]
        ada.close()
        left = events.get()
        assert left.args[0]["event"] == "leave" and left.args[0]["member"]["session"] == joined.args[0]["member"]["session"]
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
            assert events.get().args[0]["member"]["session"] == session
            os.kill(child.pid, signal.SIGKILL)
            left = events.get(timeout=15)
        finally:
            child.kill()
            child.wait()
    assert left.args[0] == {"event": "leave", "room": "p3", "member": {"session": session, "nick": "doomed",
                                                                           "authid": left.args[0]["member"]["authid"]}}
    assert switchboard_hub.client().call("presence.list", "p3") == []


@pytest.mark.parametrize("args, uri", [(("Bad Room", "x"), errors.INVALID_ROOM), (("ok", ""), errors.INVALID_NICK)])
def test_presence_bad_input(switchboard_client, args, uri):
    with pytest.raises(ApplicationError) as info:
        switchboard_client.call("presence.join", *args)
    assert info.value.error == uri

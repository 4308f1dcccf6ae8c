"""Presence: joins and leaves, including a client killed without a goodbye."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import uris
from switchboard.bridge.limits import LIMITS
from switchboard.router.testing.hub import Hub


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
        from switchboard.router.client import Client
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
    assert left.args[0] == {
        "event": "leave",
        "room": "p3",
        "member": {"id": f"session:{session}", "nick": "doomed", "authid": None},
    }
    assert switchboard_hub.client().call("presence.list", "p3") == []


def test_tabs_of_one_browser_count_once(switchboard_hub):
    client = "browser-0123456789"
    with (
        switchboard_hub.client() as watcher,
        switchboard_hub.backend_client() as backend,
        switchboard_hub.client() as tab1,
        switchboard_hub.client() as tab2,
    ):
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
    from switchboard.bridge import tickets
    from switchboard.router.client import Client

    def login():
        ticket = tickets.mint(switchboard_hub.ticket_secret, "77")
        return Client(switchboard_hub.url, switchboard_hub.realm, ticket=ticket)

    with switchboard_hub.client() as watcher, login() as a, login() as b:
        a.call("presence.join", "p5", "ann")
        b.call("presence.join", "p5", "ann")
        assert watcher.call("presence.list", "p5") == [{"id": "user:77", "nick": "ann", "authid": "77"}]


@pytest.mark.parametrize(
    "args, uri",
    [
        (("Bad Room", "x"), uris.INVALID_ROOM),
        (("ok", ""), uris.INVALID_NICK),
        (("ok", "x", "short"), uris.INVALID_ARGUMENT),
    ],
)
def test_presence_bad_input(switchboard_client, args, uri):
    with pytest.raises(ApplicationError) as info:
        switchboard_client.call("presence.join", *args)
    assert info.value.error == uri


CROWD = """
import asyncio, sys
import txaio
txaio.use_asyncio()
from autobahn.asyncio.wamp import ApplicationSession
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp.types import ComponentConfig

url, realm, room, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

async def member(i, joined):
    class Member(ApplicationSession):
        async def onJoin(self, details):
            await self.call("presence.join", room, f"member-{i:04d}")
            joined.set_result(None)
    factory = WampWebSocketClientFactory(lambda: Member(ComponentConfig(realm)), url=url)
    host, port = url.split("//")[1].split("/")[0].split(":")
    await asyncio.get_running_loop().create_connection(factory, host, int(port))
    await joined

async def main():
    loop = asyncio.get_running_loop()
    for start in range(0, n, 100):  # in waves, so the router is not flooded with handshakes
        await asyncio.gather(*(member(i, loop.create_future()) for i in range(start, min(n, start + 100))))
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


#: the crowd connects from one address, faster and more often than the per-address limits allow a client
CROWD_LIMITS = {LIMITS["connections_per_ip"].env: "2000", LIMITS["connects_per_second_per_ip"].env: "2000"}


def test_a_room_of_1000_is_listed_in_one_call(tmp_path):
    with Hub.started(tmp_path, env=CROWD_LIMITS) as hub:
        crowd_in_one_room(hub)


def crowd_in_one_room(hub):
    crowd = subprocess.Popen(
        [sys.executable, "-c", CROWD, hub.url, hub.realm, "big", "1000"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert crowd.stdout.readline().strip() == "ready"
        with hub.client() as newcomer:
            members = newcomer.call("presence.join", "big", "newcomer")  # one round trip: the whole room
            assert len(members) == 1001
            assert [m["nick"] for m in newcomer.call("presence.list", "big")][:2] == ["member-0000", "member-0001"]
            events = newcomer.subscribe("presence.room.big")
            crowd.kill()
            crowd.wait()
            left = {events.get(timeout=30).args[0]["member"]["nick"] for _ in range(1000)}
            assert len(left) == 1000 and newcomer.call("presence.list", "big")[0]["nick"] == "newcomer"
    finally:
        crowd.kill()
        crowd.wait()

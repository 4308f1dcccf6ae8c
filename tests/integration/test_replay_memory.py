"""Replay memory survives a hub restart: used tickets, bridge nonces and published event ids.

One hub: everything is used once, the hub restarts, and each test replays one of them. The keys are
written behind by a thread: a graceful stop flushes it, and an answered request or a WELCOME waited
for its key's commit, so even a kill -9 just after the answer forgets nothing (a second hub).
"""

import json
from dataclasses import dataclass

import pytest
from switchboard.bridge import tickets
from switchboard.bridge.signing import sign_request
from switchboard.router.client import Client, JoinError
from switchboard.router.testing.hub import Hub

from tests.integration.bridge_http import request

TOPIC = "chat.room.replay-restart"
EVENT = {"topic": TOPIC, "args": ["first"], "id": "evt-across-restart"}


@dataclass
class Used:
    hub: Hub
    ticket: str
    raw: bytes
    headers: dict
    last_ticket: str


@pytest.fixture(scope="module")
def used(tmp_path_factory):
    with Hub.started(tmp_path_factory.mktemp("replay-memory"), with_components=False) as hub:
        ticket = tickets.mint(hub.ticket_secret, "31")
        Client(hub.url, hub.realm, ticket=ticket).close()
        raw = json.dumps({"topic": TOPIC, "args": ["signed once"]}).encode()
        headers = sign_request(hub.bridge_key, hub.bridge_secret, "POST", "/bridge/publish", raw)
        assert request(hub, "publish", raw=raw, headers=headers, sign=False)[0] == 200
        assert request(hub, "publish", EVENT) == (200, {"id": EVENT["id"], "duplicate": False})
        last_ticket = tickets.mint(hub.ticket_secret, "32")
        Client(hub.url, hub.realm, ticket=last_ticket).close()
        hub.restart()  # at once: the graceful stop flushes the writer
        yield Used(hub, ticket, raw, headers, last_ticket)


def test_the_replay_memory_is_one_file_in_the_node_dir(used):
    assert (used.hub.node.cbdir / "replay.sqlite3").is_file()


def test_a_used_ticket_is_refused_after_a_restart(used):
    with pytest.raises(JoinError) as info:
        Client(used.hub.url, used.hub.realm, ticket=used.ticket)
    assert info.value.reason == "switchboard.error.ticket_replayed"
    with Client(used.hub.url, used.hub.realm, ticket=tickets.mint(used.hub.ticket_secret, "31")) as fresh:
        assert fresh.details.authid == "31"


def test_a_ticket_used_just_before_a_restart_is_refused_after_it(used):
    with pytest.raises(JoinError) as info:
        Client(used.hub.url, used.hub.realm, ticket=used.last_ticket)
    assert info.value.reason == "switchboard.error.ticket_replayed"


def test_a_signed_request_replayed_after_a_restart_is_refused(used):
    status, body = request(used.hub, "publish", raw=used.raw, headers=used.headers, sign=False)
    assert (status, body["reason"]) == (401, "replayed")


def test_an_event_id_published_before_a_restart_is_a_duplicate_after_it(used):
    with used.hub.backend_client() as backend:
        sub = backend.subscribe(TOPIC)
        assert request(used.hub, "publish", EVENT) == (200, {"id": EVENT["id"], "duplicate": True})
        assert request(used.hub, "publish", {**EVENT, "id": "evt-after", "args": ["after"]})[1]["duplicate"] is False
        assert sub.get().args == ("after",), "the duplicate must not have been delivered again"


def test_what_was_answered_just_before_a_kill_9_is_refused_after_it(tmp_path):
    with Hub.started(tmp_path, with_components=False) as hub:
        ticket = tickets.mint(hub.ticket_secret, "33")
        Client(hub.url, hub.realm, ticket=ticket).close()  # WELCOMEd: the ticket's use was committed first
        raw = json.dumps({"topic": TOPIC, "args": ["before the kill"], "id": "evt-before-kill"}).encode()
        headers = sign_request(hub.bridge_key, hub.bridge_secret, "POST", "/bridge/publish", raw)
        assert request(hub, "publish", raw=raw, headers=headers, sign=False)[0] == 200
        hub.node.kill()  # SIGKILL at once: no flush on the way down
        hub.start()
        with pytest.raises(JoinError) as info:
            Client(hub.url, hub.realm, ticket=ticket)
        assert info.value.reason == "switchboard.error.ticket_replayed"
        status, body = request(hub, "publish", raw=raw, headers=headers, sign=False)
        assert (status, body["reason"]) == (401, "replayed")
        retry = {"topic": TOPIC, "args": ["before the kill"], "id": "evt-before-kill"}
        assert request(hub, "publish", retry) == (200, {"id": "evt-before-kill", "duplicate": True})

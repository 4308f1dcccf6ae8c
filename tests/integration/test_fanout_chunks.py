"""Crossbar dispatches an event to more than 100 subscribers of one subscription in chunks; when the
topic also matches another subscription, its later chunks must still carry their own subscription
(router/node/process.py, DISPATCH_IN_ONE_CHUNK). Checked on the wire: every subscriber's EVENT names the subscription
its SUBSCRIBED gave it."""

import contextlib
import json

from switchboard.bridge import limits
from switchboard.router.testing.hub import Hub

from tests.wsraw import RawWebSocket

#: more than Crossbar's chunk (100), so the exact subscription is dispatched in 2 chunks at least
SUBSCRIBERS = 150


def _wamp(ws, message) -> list:
    ws.send(json.dumps(message).encode())
    return json.loads(ws.recv())


def test_every_subscriber_of_a_chunked_dispatch_gets_its_own_subscription(tmp_path):
    """chat.room.big matches the subscribers' exact subscription and the history component's
    prefix subscription on chat.room. (config.json)."""
    many = {limits.LIMITS[name].env: "1000" for name in ("connections_per_ip", "connects_per_second_per_ip")}
    with Hub.started(tmp_path, env=many) as hub, contextlib.ExitStack() as stack:
        subscribed = []
        for _ in range(SUBSCRIBERS):
            ws = stack.enter_context(RawWebSocket("127.0.0.1", hub.settings.port))
            assert _wamp(ws, [1, hub.realm, {"roles": {"subscriber": {}}}])[0] == 2  # WELCOME
            reply = _wamp(ws, [32, 1, {}, "chat.room.big"])
            assert reply[0] == 33, reply  # SUBSCRIBED
            subscribed.append((ws, reply[2]))
        assert len({sub for _, sub in subscribed}) == 1
        with hub.client() as poster:
            poster.call("chat.post", "big", "to everyone", "ann")
        for ws, subscription in subscribed:
            event = json.loads(ws.recv())
            assert event[0] == 36 and event[1] == subscription, event  # EVENT, under its subscription
            assert event[4][0]["text"] == "to everyone"

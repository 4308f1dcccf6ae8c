"""Django Channels, the same workloads: an ASGI app for daphne with channels_redis on a real Redis.

    BENCH_REDIS_PORT=... daphne bench.peers_channels_app:application

The consumer (AsyncWebsocketConsumer): "S" adds its channel to group "bench" (answered "ok");
"P<payload>" calls channel_layer.group_send("bench", ...) and every member's consumer writes
<payload> to its WebSocket; "C<id>:<a>,<b>" is answered "R<id>:<a+b>" by the consumer itself
(request/response over the consumer: no Redis, no separate callee).
"""

from __future__ import annotations

import os

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only",
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=["channels"],
        CHANNEL_LAYERS={
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    "hosts": [("127.0.0.1", int(os.environ.get("BENCH_REDIS_PORT", "6379")))],
                    # the default capacity (100) drops messages to a busy process silently: room for all
                    "capacity": 1_000_000,
                    "expiry": 60,
                },
            }
        },
    )
    django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

GROUP = "bench"


class BenchConsumer(AsyncWebsocketConsumer):
    joined = False

    async def receive(self, text_data=None, bytes_data=None):
        kind = text_data[:1]
        if kind == "P":
            await self.channel_layer.group_send(GROUP, {"type": "bench.event", "text": text_data[1:]})
        elif kind == "C":
            head, _, args = text_data[1:].partition(":")
            a, b = args.split(",")
            await self.send(text_data=f"R{head}:{int(a) + int(b)}")
        elif kind == "S":
            await self.channel_layer.group_add(GROUP, self.channel_name)
            self.joined = True
            await self.send(text_data="ok")

    async def disconnect(self, code):
        if self.joined:
            await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def bench_event(self, event):
        await self.send(text_data=event["text"])


application = ProtocolTypeRouter({"websocket": URLRouter([path("ws/", BenchConsumer.as_asgi())])})

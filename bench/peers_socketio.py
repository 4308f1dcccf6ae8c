"""python-socketio on aiohttp, the same workloads: `python -m bench.peers_socketio PORT`.

Events: "sub" joins room "bench" (acknowledged), "pub" emits the payload as event "ev" to the room
(minus the publisher), "add2" returns a + b through the acknowledgement (answered in the server
process itself: there is no separate callee hop as with a WAMP router).
"""

from __future__ import annotations

import sys

import socketio
from aiohttp import web

sio = socketio.AsyncServer(
    async_mode="aiohttp", cors_allowed_origins="*", logger=False, engineio_logger=False, max_http_buffer_size=1 << 20
)


@sio.on("sub")
async def sub(sid, data=None):
    await sio.enter_room(sid, "bench")
    return "ok"


@sio.on("pub")
async def pub(sid, data):
    await sio.emit("ev", data, room="bench", skip_sid=sid)


@sio.on("add2")
async def add2(sid, a, b):
    return a + b


def main() -> None:
    port = int(sys.argv[1])
    app = web.Application()
    sio.attach(app)

    async def ready(_app):
        print("READY", flush=True)

    app.on_startup.append(ready)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=1024)


if __name__ == "__main__":
    main()

"""Raw WebSocket bytes over asyncio sockets, for the soak's bad clients: each connection binds its own
loopback source address (so the hub's per-address limits see it), sends exactly what it is given, and
reads only when asked to (a slow consumer never does). Real clients (aiohttp) cannot send malformed
frames or stop reading. Mirrors tests/wsraw.py, which is blocking and cannot bind an address.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct

SUBPROTOCOLS = {"json": "wamp.2.json", "msgpack": "wamp.2.msgpack"}


class Closed(Exception):
    """The hub closed the connection; `code` is the WebSocket close code when it sent one."""

    def __init__(self, code: int | None = None, reason: str = ""):
        super().__init__(f"closed with {code} {reason!r}" if code else "connection closed")
        self.code, self.reason = code, reason


def mask(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    stream = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ stream).to_bytes(n, "big") if n else b""


def frame(payload: bytes, opcode: int) -> bytes:
    """One masked, final client frame."""
    key, n = os.urandom(4), len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return header + key + mask(payload, key)


def upgrade_request(host: str, port: int, serializer: str, path: str = "/ws") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: {SUBPROTOCOLS[serializer]}\r\n\r\n"
    ).encode()


class Conn:
    """One TCP connection from `source` to the hub, non-blocking, on the running loop."""

    def __init__(self, sock: socket.socket):
        self.sock, self.buffer = sock, b""
        self.loop = asyncio.get_running_loop()

    @classmethod
    async def open(cls, source: str, host: str, port: int, rcvbuf: int | None = None) -> "Conn":
        sock = socket.socket()
        try:
            if rcvbuf:  # a small receive window: the hub's sends back up sooner
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.bind((source, 0))
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    async def send(self, data: bytes) -> None:
        await self.loop.sock_sendall(self.sock, data)

    async def _more(self) -> None:
        chunk = await self.loop.sock_recv(self.sock, 65536)
        if not chunk:
            raise Closed()
        self.buffer += chunk

    async def read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            await self._more()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    async def read_head(self, limit: int = 65536) -> bytes:
        """An HTTP response's status line and headers."""
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > limit:
                raise Closed(reason="response head too long")
            await self._more()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        return head

    async def read_any(self) -> bytes:
        """Whatever the hub sends next (b"" once it closed)."""
        if self.buffer:
            data, self.buffer = self.buffer, b""
            return data
        return await self.loop.sock_recv(self.sock, 65536)

    async def upgrade(self, host: str, port: int, serializer: str) -> None:
        await self.send(upgrade_request(host, port, serializer))
        head = await self.read_head()
        if not head.startswith(b"HTTP/1.1 101"):
            raise Closed(reason=head.split(b"\r\n", 1)[0].decode("latin-1"))

    async def recv_frame(self) -> bytes:
        """The next data frame's payload (pings answered; a close frame raised as Closed)."""
        while True:
            b0, b1 = await self.read_exactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", await self.read_exactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await self.read_exactly(8))[0]
            payload = await self.read_exactly(n)
            opcode = b0 & 0x0F
            if opcode == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise Closed(code, payload[2:].decode("utf-8", "replace"))
            if opcode == 9:
                await self.send(frame(payload, 10))
            elif opcode in (0, 1, 2):
                return payload

    def close(self) -> None:
        self.sock.close()

"""A raw WebSocket and RawSocket client for hostile-input tests: it sends exactly the bytes a test
gives, reads only when told to (a slow consumer is one that never does), and reports how the hub
closed the connection. Real clients (switchboard.router.client) cannot send malformed or deep frames.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import time

SUBPROTOCOLS = {"json": "wamp.2.json", "msgpack": "wamp.2.msgpack", "cbor": "wamp.2.cbor"}
#: RawSocket serializer ids (WAMP spec, RawSocket transport)
RAWSOCKET_SERIALIZERS = {"json": 1, "msgpack": 2, "cbor": 3}


class Closed(Exception):
    """The hub closed the connection; `code` is the WebSocket close code when it sent one."""

    def __init__(self, code: int | None = None, reason: str = ""):
        super().__init__(f"closed with {code} {reason!r}" if code else "connection closed")
        self.code, self.reason = code, reason


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise Closed()
        data += chunk
    return data


class _Connection:
    """A socket a test reads from only when it says so; closed on leaving a `with` block."""

    sock: socket.socket
    #: while wait_closed runs: when to stop reading, pings or not
    _deadline: float | None = None

    def recv(self) -> bytes:
        raise NotImplementedError

    def wait_closed(self, timeout: float = 10.0) -> Closed:
        """Read until the hub closes the connection; the Closed it ended with."""
        deadline = self._deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the hub did not close the connection within {timeout}s")
            self.sock.settimeout(max(0.05, remaining))
            try:
                self.recv()
            except Closed as e:
                return e
            except (ConnectionResetError, BrokenPipeError):
                return Closed()
            except socket.timeout:
                continue

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RawWebSocket(_Connection):
    """One WebSocket connection to `host:port/path` speaking `serializer`'s WAMP subprotocol."""

    def __init__(
        self,
        host: str,
        port: int,
        serializer: str = "json",
        path: str = "/ws",
        timeout: float = 10.0,
        rcvbuf: int | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.sock = socket.socket()
        if rcvbuf:  # a small receive window makes the hub's sends back up sooner (a slow consumer)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {SUBPROTOCOLS[serializer]}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
            + "\r\n"
        )
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Closed()
            response += chunk
        head, _, self._pending = response.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise Closed(reason=head.split(b"\r\n", 1)[0].decode("latin-1"))
        self.binary = serializer != "json"

    def send(self, payload: bytes, opcode: int | None = None) -> None:
        opcode = opcode if opcode is not None else (2 if self.binary else 1)
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask_fast(payload, mask)
        self.sock.sendall(header + mask + masked)

    def _read(self, n: int) -> bytes:
        if len(self._pending) >= n:
            data, self._pending = self._pending[:n], self._pending[n:]
            return data
        data, self._pending = self._pending, b""
        return data + _recv_exactly(self.sock, n - len(data))

    def recv(self) -> bytes:
        """The next data frame's payload (pings answered, a close frame raised as Closed)."""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            opcode = b0 & 0x0F
            if opcode == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise Closed(code, payload[2:].decode("utf-8", "replace"))
            if opcode == 9:
                self.send(payload, opcode=10)
                if self._deadline is not None and time.monotonic() > self._deadline:
                    raise socket.timeout("only pings until the deadline")  # the hub pings every few seconds
                continue
            if opcode in (1, 2, 0):
                return payload


class RawRawSocket(_Connection):
    """One WAMP RawSocket connection (WAMP spec, RawSocket transport): handshake, then length-prefixed
    messages."""

    def __init__(self, host: str, port: int, serializer: str = "json", timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.sendall(bytes([0x7F, 0xF0 | RAWSOCKET_SERIALIZERS[serializer], 0, 0]))
        reply = _recv_exactly(self.sock, 4)
        if reply[0] != 0x7F or reply[1] & 0x0F == 0:
            raise Closed(reason=f"handshake refused: {reply.hex()}")

    def send(self, payload: bytes) -> None:
        self.sock.sendall(struct.pack("!I", len(payload) & 0xFFFFFF) + payload)

    def recv(self) -> bytes:
        header = _recv_exactly(self.sock, 4)
        n = struct.unpack("!I", header)[0] & 0xFFFFFF
        return _recv_exactly(self.sock, n)


def _mask_fast(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")

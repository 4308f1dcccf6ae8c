"""Hostile connections to a hub: send a case's bytes, then check that the hub either closed the
connection or still answers on it (a probe call), within a timeout: never a hang.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from dataclasses import dataclass, field

import cbor2
import msgpack
from autobahn.wamp import auth
from switchboard.router import settings as S

from tests.hostile import strategies as H
from tests.wsraw import Closed, RawRawSocket, RawWebSocket

#: how long the hub has to close or answer; far above what any answer takes, below the auto-ping's
#: 10 s, so a connection the hub forgot is reported as such and not saved by the ping timeout
ANSWER_TIMEOUT = 8.0
PROBE_REQUEST = 7_777_777
GONE = (Closed, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


def decode(serializer: str, payload: bytes):
    try:
        if serializer == "json":
            return json.loads(payload)
        if serializer == "msgpack":
            return msgpack.unpackb(payload, raw=False, strict_map_key=False)
        return cbor2.loads(payload)
    except Exception:
        return None


def hello(authmethods=("anonymous",), authid=None) -> list:
    details = {
        "roles": {"caller": {}, "callee": {}, "publisher": {}, "subscriber": {}},
        "authmethods": list(authmethods),
    }
    if authid is not None:
        details["authid"] = authid
    return [H.HELLO, H.REALM, details]


PROBE_CALL = [H.CALL, PROBE_REQUEST, {}, "demo.add2", [20, 22]]


class Hang(AssertionError):
    """The hub neither closed the connection nor answered within ANSWER_TIMEOUT."""


def _answered(message) -> bool:
    if not isinstance(message, list) or len(message) < 2:
        return False
    if message[0] == H.RESULT and message[1] == PROBE_REQUEST:
        assert message[3:4] == [[42]], f"the probe call got a wrong result: {message!r}"
        return True
    return message[0] == H.ERROR and message[2:3] == [PROBE_REQUEST]


# --- WebSocket --------------------------------------------------------------------------------
@dataclass
class WsCase:
    """`opening`: none (frames before HELLO), hello (in a session), goodbye (after GOODBYE);
    `frames`: (Wire, Framing) pairs; `ending`: probe, half_close (EOF after a truncated frame) or reset."""

    opening: str
    frames: list = field(default_factory=list)
    ending: str = "probe"


def ws_next(ws: RawWebSocket, deadline: float) -> bytes:
    """The next data frame's payload by `deadline` (socket.timeout after it), pings answered, a
    close raised as Closed. RawWebSocket.recv's own timeout starts again at every ping, and the hub
    pings every 5 s: a connection it forgot would never time out there."""

    def read(n: int) -> bytes:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        ws.sock.settimeout(left)
        return ws._read(n)

    while True:
        b0, b1 = read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", read(8))[0]
        payload = read(n)
        opcode = b0 & 0x0F
        if opcode == 8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            raise Closed(code, payload[2:].decode("utf-8", "replace"))
        if opcode == 9:
            ws.send(payload, opcode=10)
        elif opcode in (0, 1, 2):
            return payload


def ws_wait_closed(ws: RawWebSocket, timeout: float = ANSWER_TIMEOUT) -> Closed:
    """Read until the hub closes; the Closed it ended with (TimeoutError past `timeout`)."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            ws_next(ws, deadline)
    except Closed as e:
        return e
    except (ConnectionResetError, BrokenPipeError):
        return Closed()
    except socket.timeout:
        raise TimeoutError(f"the hub did not close the connection within {timeout}s") from None


def _ws_read_until(ws: RawWebSocket, serializer: str, done, deadline: float):
    while True:
        message = decode(serializer, ws_next(ws, deadline))
        if done(message):
            return message


def ws_open(hub, serializer: str, opening: str) -> RawWebSocket:
    ws = RawWebSocket("127.0.0.1", hub.settings.port, serializer, timeout=ANSWER_TIMEOUT)
    if opening in ("hello", "goodbye"):
        ws.send(H.encode(serializer, hello()))
        welcome = _ws_read_until(ws, serializer, lambda m: True, time.monotonic() + ANSWER_TIMEOUT)
        assert isinstance(welcome, list) and welcome[0] == H.WELCOME, welcome
    if opening == "goodbye":
        ws.send(H.encode(serializer, [H.GOODBYE, {}, "wamp.close.normal"]))
        reply = _ws_read_until(ws, serializer, lambda m: True, time.monotonic() + ANSWER_TIMEOUT)
        assert isinstance(reply, list) and reply[0] == H.GOODBYE, reply
    return ws


def ws_probe(ws: RawWebSocket, serializer: str, joined: bool, what: str = "") -> str:
    """A CALL (after a HELLO unless `joined`): 'closed' if the hub closes, 'answered' if the call gets
    its RESULT or ERROR."""
    try:
        if not joined:
            ws.send(H.encode(serializer, hello()))
        ws.send(H.encode(serializer, PROBE_CALL))
        _ws_read_until(ws, serializer, _answered, time.monotonic() + ANSWER_TIMEOUT)
        return "answered"
    except GONE:
        return "closed"
    except (socket.timeout, TimeoutError):
        raise Hang(f"the hub neither closed nor answered within {ANSWER_TIMEOUT}s {what}") from None


def wait_eof(sock: socket.socket, what: str = "") -> None:
    """After our half-close: the hub must close its side too (reading what it still sends)."""
    deadline = time.monotonic() + ANSWER_TIMEOUT
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            sock.settimeout(left)
            if not sock.recv(65536):
                return
    except (ConnectionResetError, BrokenPipeError):
        return
    except (socket.timeout, TimeoutError):
        raise Hang(f"the hub kept a half-closed connection open for {ANSWER_TIMEOUT}s {what}") from None


def reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a crashed client or a cut network does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def ending(sock, probe, kind: str, what: str) -> str:
    if kind == "probe":
        return probe()
    if kind == "half_close":
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return "closed"
        wait_eof(sock, what)
        return "closed"
    reset(sock)
    return "reset"


def run_ws(hub, serializer: str, case: WsCase) -> str:
    ws = ws_open(hub, serializer, case.opening)
    try:
        try:
            for wire, framing in case.frames:
                ws.sock.sendall(framing.frames(wire.payload(serializer), ws.binary))
        except GONE:
            return "closed"
        what = f"({case.opening}, {case.ending})"
        return ending(ws.sock, lambda: ws_probe(ws, serializer, case.opening == "hello", what), case.ending, what)
    finally:
        ws.close()


# --- RawSocket --------------------------------------------------------------------------------
@dataclass
class RawCase:
    """`opening`: none (before HELLO), challenged (HELLO wampcra sent, CHALLENGE read) or
    authenticated (a backend session); `frames`: (Wire, RawFrame) pairs; `ending` as for WsCase."""

    opening: str
    frames: list = field(default_factory=list)
    ending: str = "probe"


def _rs_read_until(rs: RawRawSocket, serializer: str, done, deadline: float):
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        rs.sock.settimeout(left)
        message = decode(serializer, rs.recv())
        if done(message):
            return message


def _challenge_answer(secret: str, message) -> list:
    extra = message[2] if len(message) > 2 and isinstance(message[2], dict) else {}
    key = secret
    if "salt" in extra:
        key = auth.derive_key(secret, extra["salt"], extra.get("iterations", 1000), extra.get("keylen", 32))
    return [H.AUTHENTICATE, auth.compute_wcs(key, extra.get("challenge", "")).decode(), {}]


def rs_open(hub, serializer: str, opening: str) -> RawRawSocket:
    rs = RawRawSocket("127.0.0.1", hub.settings.backend_port, serializer, timeout=ANSWER_TIMEOUT)
    if opening == "none":
        return rs
    rs.send(H.encode(serializer, hello(["wampcra"], S.BACKEND_AUTHID)))
    challenge = _rs_read_until(rs, serializer, lambda m: True, time.monotonic() + ANSWER_TIMEOUT)
    assert isinstance(challenge, list) and challenge[0] == H.CHALLENGE, challenge
    if opening == "authenticated":
        rs.send(H.encode(serializer, _challenge_answer(hub.backend_secret, challenge)))
        welcome = _rs_read_until(rs, serializer, lambda m: True, time.monotonic() + ANSWER_TIMEOUT)
        assert isinstance(welcome, list) and welcome[0] == H.WELCOME, welcome
    return rs


def rs_probe(hub, rs: RawRawSocket, serializer: str, joined: bool, what: str = "") -> str:
    """A CALL, after (unless `joined`) a WAMP-CRA HELLO and the answer to whichever CHALLENGE comes:
    'closed' or 'answered'."""

    def step(message) -> bool:
        if isinstance(message, list) and message[:1] == [H.CHALLENGE]:
            rs.send(H.encode(serializer, _challenge_answer(hub.backend_secret, message)))
        elif isinstance(message, list) and message[:1] == [H.WELCOME]:
            rs.send(H.encode(serializer, PROBE_CALL))
        return _answered(message)

    try:
        if joined:
            rs.send(H.encode(serializer, PROBE_CALL))
        else:
            rs.send(H.encode(serializer, hello(["wampcra"], S.BACKEND_AUTHID)))
        _rs_read_until(rs, serializer, step, time.monotonic() + ANSWER_TIMEOUT)
        return "answered"
    except GONE:
        return "closed"
    except (socket.timeout, TimeoutError):
        raise Hang(f"the hub neither closed nor answered within {ANSWER_TIMEOUT}s {what}") from None


def run_rs(hub, serializer: str, case: RawCase) -> str:
    rs = rs_open(hub, serializer, case.opening)
    try:
        try:
            for wire, raw_frame in case.frames:
                rs.sock.sendall(raw_frame.frame(wire.payload(serializer)))
        except GONE:
            return "closed"
        what = f"({case.opening}, {case.ending})"
        joined = case.opening == "authenticated"
        return ending(rs.sock, lambda: rs_probe(hub, rs, serializer, joined, what), case.ending, what)
    finally:
        rs.close()


def run_rs_handshake(hub, handshake: bytes, tail: bytes) -> str:
    """Any opening bytes, then EOF: the hub answers what it likes but must close."""
    sock = socket.create_connection(("127.0.0.1", hub.settings.backend_port), timeout=ANSWER_TIMEOUT)
    try:
        try:
            sock.sendall(handshake + tail)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # refused and closed while we were sending
            return "closed"
        wait_eof(sock, f"(handshake {handshake.hex()})")
        return "closed"
    finally:
        sock.close()

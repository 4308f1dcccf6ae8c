"""How the hub's own HTTP resources answer (the bridge, /health, /ready, /metrics): JSON bodies with
no caching, nothing but GET and HEAD where a resource only reads, and no body for HEAD (Twisted logs a
line for every HEAD answer that carries one)."""

from __future__ import annotations

import json

from switchboard.bridge import uris


def body_for(request, data: bytes) -> bytes:
    return b"" if request.method == b"HEAD" else data


def json_answer(request, status: int, body: dict) -> bytes:
    """Set status and headers; returns the body for render() to hand to Twisted."""
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"cache-control", b"no-store")
    return body_for(request, json.dumps(body, separators=(",", ":")).encode("utf-8"))


def refuse_unless_get(request) -> bytes | None:
    """The 405 answer to anything but GET and HEAD, else None."""
    if request.method in (b"GET", b"HEAD"):
        return None
    request.setHeader(b"allow", b"GET, HEAD")
    return json_answer(request, 405, {"error": uris.METHOD_NOT_ALLOWED, "message": "use GET"})

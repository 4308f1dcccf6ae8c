"""Test helpers: a fake bridge client for outbox unit tests, signed requests for the hub-facing views."""

from __future__ import annotations

import json
from typing import Any, Callable

from switchboard.bridge.client import PublishResult
from switchboard.bridge.errors import BadRequest, HubUnavailable, NotAuthorized, SwitchboardError
from switchboard.bridge.signing import sign_request


class FakeClient:
    """Records what publish_many sends; `refuse` / `fail` script the hub's answers.

    `refuse[event_id] = status` makes the hub refuse that event (publishing the ones before it in
    the batch, as the real hub does); `fail_next = n` makes the next n requests fail as if the hub
    were down.
    """

    def __init__(self):
        self.published: list[dict] = []
        self.batches: list[list[dict]] = []
        self.refuse: dict[str, int] = {}
        self.fail_next = 0
        self.known_index = True
        self.closed = 0

    @property
    def topics_args(self) -> list[tuple[str, list]]:
        return [(e["topic"], e["args"]) for e in self.published]

    def publish_many(self, events):
        events = [dict(e) for e in events]
        self.batches.append(events)
        if self.fail_next:
            self.fail_next -= 1
            raise HubUnavailable("cannot connect to the hub (fake)")
        results = []
        for i, event in enumerate(events):
            status = self.refuse.get(event["id"])
            if status:
                cls = NotAuthorized if status == 403 else BadRequest if status in (400, 413) else SwitchboardError
                error = cls(f"refused (fake {status})", status=status, uri="wamp.error.not_authorized")
                error.results = list(results)
                if self.known_index:
                    error.index = i
                raise error
            self.published.append(event)
            results.append(PublishResult(event["id"], False))
        return results

    def close(self):
        self.closed += 1


def signed_post(
    client,
    path: str,
    payload: Any,
    *,
    key: str,
    secret: str,
    raw: bytes | None = None,
    tamper: Callable[[dict], None] | None = None,
):
    """POST `payload` as JSON to `path` with the bridge signature headers (Django test client)."""
    body = raw if raw is not None else json.dumps(payload).encode("utf-8")
    headers = sign_request(key, secret, "POST", path, body)
    if tamper:
        tamper(headers)
    return client.post(path, data=body, content_type="application/json", headers=headers)

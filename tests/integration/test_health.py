"""`/health` and `/ready` (router/services/health.py): liveness always, readiness only once every
component of the config has done its setup, and 503 naming what is missing when one is gone."""

from __future__ import annotations

import json
import os
import signal

import pytest
import urllib3
from switchboard.bridge import uris
from switchboard.router import settings as S
from switchboard.router.testing.hub import Hub, wait_until

http = urllib3.PoolManager(retries=False, timeout=10)


def get(hub: Hub, path: str, method: str = "GET") -> tuple[int, dict | None]:
    response = http.request(method, hub.http_url + path)
    return response.status, (json.loads(response.data) if response.data else None)


@pytest.fixture
def hub(tmp_path):
    with Hub.started(tmp_path) as running:
        yield running


def test_health_is_alive_and_ready_counts_every_component(hub):
    assert get(hub, S.HEALTH_PATH) == (200, {"status": "alive"})
    status, body = get(hub, S.READY_PATH)
    expected = S.container_components(S.load_config(S.CONFIG_FILE))
    assert (status, body) == (200, {"status": "ready", "components": {"ready": expected, "expected": expected}})
    assert get(hub, S.READY_PATH, "HEAD")[0] == 200


def test_ready_answers_503_naming_what_is_missing_once_a_component_is_gone(hub):
    os.kill(hub.worker_pid("chat"), signal.SIGKILL)

    def not_ready():
        status, body = get(hub, S.READY_PATH)
        return body if status == 503 else None

    body = wait_until(not_ready, timeout=30, what="/ready answering 503")
    expected = body["components"]["expected"]
    assert body["status"] == "starting" and body["components"]["ready"] < expected
    assert body["missing"] == [f"1 of {expected} components have not finished their setup"]
    assert get(hub, S.HEALTH_PATH)[0] == 200  # the router still lives


def test_only_get_and_head_are_answered_and_head_has_no_body(hub):
    for path in (S.HEALTH_PATH, S.READY_PATH, S.METRICS_PATH):
        status, body = get(hub, path, "POST")
        assert status == 405 and body["error"] == uris.METHOD_NOT_ALLOWED
        head = http.request("HEAD", hub.http_url + path)
        assert head.status == 200 and head.data == b""
    assert "HEAD request" not in hub.log_text()  # Twisted's line for a HEAD answer with a body

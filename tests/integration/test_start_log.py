"""A real hub's log (router/node/logview.py): at info a start reads in a few lines (versions, what
each service and component did) and a stop in one; Crossbar's banner and config dumps only at debug;
one line for a refused request, with its reason; SWITCHBOARD_LOG_FORMAT=json gives JSON lines."""

import json
import urllib.error
import urllib.request

import pytest
from switchboard.router import settings as S
from switchboard.router.testing.hub import Hub, wait_until

#: components of the default config (.crossbar/config.json), each says it is ready
COMPONENTS = ("Demo", "Clock", "Chat", "Presence")
#: the most lines a start at info may take
START_LINES = 12


def lines(hub) -> list[str]:
    return hub.log_text().splitlines()


def test_a_start_at_info_reads_in_a_dozen_lines_and_a_stop_in_one(tmp_path):
    hub = Hub(tmp_path)
    hub.start()
    try:
        start = lines(hub)
    finally:
        hub.stop()
    assert len(start) <= START_LINES, "\n".join(start)
    assert "Switchboard " in start[0] and "Crossbar.io " in start[0] and "Twisted " in start[0], start[0]
    for name in COMPONENTS:
        assert [line for line in start if f"component {name} ready" in line], (name, start)
    assert not [line for line in start if "Crossbar.io v" in line or "add_role" in line or "authextra" in line]
    stop = lines(hub)[len(start) :]
    assert len(stop) == 1 and "shutting down node" in stop[0], stop  # no errors from the workers stopping


def test_at_debug_crossbars_banner_and_config_dumps_are_there(tmp_path):
    with Hub.started(tmp_path, with_components=False, loglevel="debug") as hub:
        text = hub.log_text()
    assert "Crossbar.io v" in text and "add_role" in text


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.fixture(scope="module")
def json_hub(tmp_path_factory):
    with Hub.started(tmp_path_factory.mktemp("json-log"), with_components=False, log_format="json") as hub:
        yield hub


def test_the_json_format_gives_one_object_per_line(json_hub):
    records = [json.loads(line) for line in lines(json_hub)]
    assert records and all(set(r) == {"time", "level", "system", "namespace", "message"} for r in records)
    assert records[0]["namespace"] == "switchboard.node" and records[0]["message"].startswith("Switchboard ")


def test_a_refused_bridge_request_is_one_line_naming_the_reason(json_hub):
    assert post(json_hub.http_url + "bridge/publish", b'{"topic": "django.events.x"}') == 401
    refused = wait_until(
        lambda: [r for r in map(json.loads, lines(json_hub)) if "bridge request POST /publish refused" in r["message"]],
        what="the refusal's log line",
    )
    assert len(refused) == 1 and refused[0]["level"] == "warn", refused
    assert "401 switchboard.error.unauthorized" in refused[0]["message"], refused
    assert S.ENV_LOG_FORMAT == "SWITCHBOARD_LOG_FORMAT"

"""The SWITCHBOARD setting: defaults, derived URLs, and a clear error for each mistake."""

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from switchboard.bridge.django import conf

MINIMAL = {"SECRET": "s"}


def test_defaults_and_derived_urls():
    cfg = conf.parse(MINIMAL)
    assert cfg.url == "http://127.0.0.1:8080/bridge/"
    assert cfg.key == "django"
    assert cfg.hub_http_url == "http://127.0.0.1:8080/"
    assert cfg.hub_ws_url == "ws://127.0.0.1:8080/ws"
    assert cfg.realm == "switchboard"
    assert cfg.ticket_ttl == 60
    assert cfg.ticket_secret is None
    assert cfg.outbox.send_on_commit and not cfg.outbox.sender_thread
    assert cfg.outbox.batch_size == 100


def test_the_sender_thread_is_on_by_default_only_in_debug(settings):
    settings.DEBUG = True
    assert conf.parse(MINIMAL).outbox.sender_thread
    assert not conf.parse({**MINIMAL, "OUTBOX": {"SENDER_THREAD": False}}).outbox.sender_thread
    settings.DEBUG = False
    assert not conf.parse(MINIMAL).outbox.sender_thread


def test_https_hub_behind_a_path_gets_wss():
    cfg = conf.parse({"SECRET": "s", "URL": "https://hub.example.com/rt/bridge"})
    assert cfg.url == "https://hub.example.com/rt/bridge/"
    assert cfg.hub_http_url == "https://hub.example.com/rt/"
    assert cfg.hub_ws_url == "wss://hub.example.com/rt/ws"


def test_explicit_hub_urls_win():
    cfg = conf.parse({"SECRET": "s", "HUB_HTTP_URL": "http://cdn/x", "HUB_WS_URL": "wss://rt.example.com/ws"})
    assert cfg.hub_http_url == "http://cdn/x/"
    assert cfg.hub_ws_url == "wss://rt.example.com/ws"


@pytest.mark.parametrize(
    "raw, message",
    [
        (None, "settings.SWITCHBOARD is not set"),
        ({}, "['SECRET'] must be a non-empty string"),
        ({"SECRET": ""}, "['SECRET'] must be a non-empty string"),
        ({"SECRET": "s", "SECRETS": "x"}, "unknown key(s) SECRETS"),
        ({"SECRET": "s", "URL": "127.0.0.1:8080"}, "['URL'] must be an http:// or https:// URL"),
        ({"SECRET": "s", "URL": 8080}, "['URL'] must be an http(s) URL string"),
        ({"SECRET": "s", "HUB_WS_URL": "http://x/ws"}, "['HUB_WS_URL'] must be a ws:// or wss:// URL"),
        ({"SECRET": "s", "TICKET_TTL": 0}, "['TICKET_TTL'] must be an integer from 1 to 600"),
        ({"SECRET": "s", "TIMEOUT": "10"}, "['TIMEOUT'] must be a number greater than 0"),
        ({"SECRET": "s", "OUTBOX": {"BATCH": 5}}, 'settings.SWITCHBOARD["OUTBOX"] has unknown key(s) BATCH'),
        ({"SECRET": "s", "OUTBOX": {"BATCH_SIZE": 5000}}, "['OUTBOX.BATCH_SIZE'] must be an integer from 1 to 1000"),
        ({"SECRET": "s", "OUTBOX": {"SENDER_THREAD": "yes"}}, "['OUTBOX.SENDER_THREAD'] must be True or False"),
        ({"SECRET": "s", "OUTBOX": []}, 'settings.SWITCHBOARD["OUTBOX"] must be a dict'),
    ],
)
def test_bad_settings_are_named(raw, message):
    with pytest.raises(ImproperlyConfigured) as error:
        conf.parse(raw)
    assert message in str(error.value)


def test_ticket_secret_is_required_only_for_tickets():
    cfg = conf.parse(MINIMAL)
    with pytest.raises(ImproperlyConfigured, match="TICKET_SECRET"):
        cfg.require_ticket_secret()


def test_cached_settings_follow_override_settings(settings):
    settings.SWITCHBOARD = {"SECRET": "one", "KEY": "k1"}
    assert conf.switchboard().key == "k1"
    settings.SWITCHBOARD = {"SECRET": "two", "KEY": "k2"}
    assert conf.switchboard().key == "k2"


def test_system_check_reports_bad_settings(settings):
    settings.SWITCHBOARD = {"SECRET": "s", "URL": "nope"}
    errors = checks.run_checks()
    assert [e.id for e in errors if e.id.startswith("switchboard")] == ["switchboard.E001"]
    settings.SWITCHBOARD = {"SECRET": "s"}
    assert [e.id for e in checks.run_checks() if e.id.startswith("switchboard")] == ["switchboard.W001"]
    settings.SWITCHBOARD = {"SECRET": "s", "TICKET_SECRET": "short"}
    assert [e.id for e in checks.run_checks() if e.id.startswith("switchboard")] == ["switchboard.W002"]
    settings.SWITCHBOARD = {"SECRET": "s", "TICKET_SECRET": "t" * 32}
    assert [e.id for e in checks.run_checks() if e.id.startswith("switchboard")] == []


def test_from_env_reads_the_hubs_secrets_file_and_env_wins(tmp_path):
    secrets = tmp_path / "secrets.env"
    secrets.write_text("# generated\nSWITCHBOARD_BRIDGE_SECRET=from-file\nSWITCHBOARD_TICKET_SECRET=t-file\n")
    env = {"SWITCHBOARD_TICKET_SECRET": "t-env", "SWITCHBOARD_BRIDGE_URL": "http://hub:9000/bridge/"}
    result = conf.from_env(secrets, env=env, OUTBOX={"SENDER_THREAD": True})
    assert result == {
        "URL": "http://hub:9000/bridge/",
        "SECRET": "from-file",
        "TICKET_SECRET": "t-env",
        "OUTBOX": {"SENDER_THREAD": True},
    }
    assert conf.from_env(tmp_path / "missing.env", env={}) == {}

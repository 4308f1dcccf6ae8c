"""The SWITCHBOARD setting: one dict, checked once, with clear errors.

    SWITCHBOARD = {
        "URL": "http://127.0.0.1:8080/bridge/",   # the hub's HTTP bridge
        "KEY": "django",                          # bridge key id
        "SECRET": "...",                          # bridge signing secret (required)
        "TICKET_SECRET": "...",                   # browser sign-in tickets (required for ticket/)
    }

Everything else has a default (see DEFAULTS). `switchboard()` returns the checked settings; it is
cached and recomputed when tests change the setting (override_settings).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from switchboard.bridge import tickets
from switchboard.bridge.envfile import load_env_file

SETTING = "SWITCHBOARD"

OUTBOX_DEFAULTS: dict[str, Any] = {
    # Try to deliver right after the publishing transaction commits (in that thread).
    "SEND_ON_COMMIT": True,
    # Run a delivery thread in each process that serves a request or publishes: it delivers what
    # could not go at once. With SEND_ON_COMMIT False, a commit only wakes it, so requests never
    # wait for the hub (but a short-lived process may exit before its thread delivered).
    # None: on when settings.DEBUG (in development held events go out once the hub is back), off
    # otherwise (production runs `manage.py switchboard_outbox`, or sets it True).
    "SENDER_THREAD": None,
    # Seconds between delivery rounds of the sender thread and `manage.py switchboard_outbox`.
    "INTERVAL": 2.0,
    # Events per bridge request (the hub takes at most 1000).
    "BATCH_SIZE": 100,
    # HTTP timeout (seconds) of a delivery tried right after commit; no retries there.
    "ON_COMMIT_TIMEOUT": 2.0,
    # Cap (seconds) of the growing wait before an event the hub refused is offered again.
    "MAX_BACKOFF": 300.0,
    # Seconds delivered events are kept (for the admin) before the delivery loop deletes them; None keeps them.
    "KEEP_DELIVERED": 7 * 24 * 3600,
}

DEFAULTS: dict[str, Any] = {
    "URL": "http://127.0.0.1:8080/bridge/",
    "KEY": "django",
    "SECRET": None,
    "TICKET_SECRET": None,
    "TICKET_TTL": tickets.DEFAULT_TTL,
    "TIMEOUT": 10.0,
    "RETRIES": 3,
    "HUB_HTTP_URL": None,  # default: URL without its bridge/ path
    "HUB_WS_URL": None,  # default: HUB_HTTP_URL with ws(s):// and path ws
    "REALM": "switchboard",
    "METRICS_TOKEN": None,  # bearer token for metrics/ (staff users need none)
    "OUTBOX": OUTBOX_DEFAULTS,
}


@dataclass(frozen=True)
class Outbox:
    send_on_commit: bool
    sender_thread: bool
    interval: float
    batch_size: int
    on_commit_timeout: float
    max_backoff: float
    keep_delivered: float | None


@dataclass(frozen=True)
class Settings:
    url: str
    key: str
    secret: str
    ticket_secret: str | None
    ticket_ttl: int
    timeout: float
    retries: int
    hub_http_url: str
    hub_ws_url: str
    realm: str
    outbox: Outbox
    metrics_token: str | None = None

    def require_ticket_secret(self) -> str:
        if not self.ticket_secret:
            raise ImproperlyConfigured(
                f'{SETTING}["TICKET_SECRET"] is not set: browser sign-in needs the hub\'s '
                "SWITCHBOARD_TICKET_SECRET (generated into <hub directory>/secrets.env on the hub's first run)"
            )
        return self.ticket_secret


def _fail(name: str, problem: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{SETTING}[{name!r}] {problem}")


def _http_url(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(name, f"must be an http(s) URL string, not {type(value).__name__}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail(name, f"must be an http:// or https:// URL, not {value!r}")
    if parts.query or parts.fragment:
        raise _fail(name, f"must not have a query or fragment: {value!r}")
    return value if value.endswith("/") else value + "/"


def _ws_url(name: str, value: Any) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("ws", "wss") or not urlsplit(value).hostname:
        raise _fail(name, f"must be a ws:// or wss:// URL, not {value!r}")
    return value


def _number(name: str, value: Any, *, minimum: float = 0.0, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > minimum:
        raise _fail(name, f"must be a number greater than {minimum:g}, not {value!r}")
    return float(value)


def _int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(name, f"must be an integer from {low} to {high}, not {value!r}")
    return value


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(name, f"must be True or False, not {value!r}")
    return value


def _text(name: str, value: Any, *, required: bool, hint: str = "") -> str | None:
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str) or not value:
        not_ = "" if value is None else f", not {type(value).__name__}"
        raise _fail(name, f"must be a non-empty string{hint}{not_}")
    return value


def _known(name: str, given: Mapping, defaults: Mapping) -> None:
    if not isinstance(given, Mapping):
        raise ImproperlyConfigured(f"{name} must be a dict, not {type(given).__name__}")
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ImproperlyConfigured(f"{name} has unknown key(s) {', '.join(unknown)}; known: {', '.join(defaults)}")


def parse(raw: Mapping | None) -> Settings:
    """Check a SWITCHBOARD dict and fill in defaults; raise ImproperlyConfigured naming the bad key."""
    if raw is None:
        raise ImproperlyConfigured(
            f"settings.{SETTING} is not set: add SWITCHBOARD = {{'URL': ..., 'KEY': ..., 'SECRET': ..., "
            "'TICKET_SECRET': ...}} (docs/django.md)"
        )
    _known(f"settings.{SETTING}", raw, DEFAULTS)
    values = {**DEFAULTS, **raw}
    outbox_raw = raw.get("OUTBOX", {})
    _known(f'settings.{SETTING}["OUTBOX"]', outbox_raw, OUTBOX_DEFAULTS)
    ob = {**OUTBOX_DEFAULTS, **outbox_raw}

    url = _http_url("URL", values["URL"])
    if values["HUB_HTTP_URL"] is None:
        parts = urlsplit(url)
        path = parts.path[: -len("bridge/")] if parts.path.endswith("/bridge/") else "/"
        hub_http = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    else:
        hub_http = _http_url("HUB_HTTP_URL", values["HUB_HTTP_URL"])
    if values["HUB_WS_URL"] is None:
        parts = urlsplit(hub_http)
        hub_ws = urlunsplit(("wss" if parts.scheme == "https" else "ws", parts.netloc, parts.path + "ws", "", ""))
    else:
        hub_ws = _ws_url("HUB_WS_URL", values["HUB_WS_URL"])
    realm = _text("REALM", values["REALM"], required=True)

    outbox = Outbox(
        send_on_commit=_bool("OUTBOX.SEND_ON_COMMIT", ob["SEND_ON_COMMIT"]),
        sender_thread=_sender_thread(ob["SENDER_THREAD"]),
        interval=_number("OUTBOX.INTERVAL", ob["INTERVAL"]),
        batch_size=_int("OUTBOX.BATCH_SIZE", ob["BATCH_SIZE"], 1, 1000),
        on_commit_timeout=_number("OUTBOX.ON_COMMIT_TIMEOUT", ob["ON_COMMIT_TIMEOUT"]),
        max_backoff=_number("OUTBOX.MAX_BACKOFF", ob["MAX_BACKOFF"]),
        keep_delivered=_number("OUTBOX.KEEP_DELIVERED", ob["KEEP_DELIVERED"], allow_none=True),
    )
    return Settings(
        url=url,
        key=_text("KEY", values["KEY"], required=True),
        secret=_text(
            "SECRET",
            values["SECRET"],
            required=True,
            hint=" (the hub's SWITCHBOARD_BRIDGE_SECRET, generated into <hub directory>/secrets.env)",
        ),
        ticket_secret=_text("TICKET_SECRET", values["TICKET_SECRET"], required=False),
        ticket_ttl=_int("TICKET_TTL", values["TICKET_TTL"], 1, tickets.MAX_TTL),
        timeout=_number("TIMEOUT", values["TIMEOUT"]),
        retries=_int("RETRIES", values["RETRIES"], 0, 10),
        hub_http_url=hub_http,
        hub_ws_url=hub_ws,
        realm=realm,
        outbox=outbox,
        metrics_token=_text("METRICS_TOKEN", values["METRICS_TOKEN"], required=False),
    )


_cached: Settings | None = None


def switchboard() -> Settings:
    """The checked SWITCHBOARD settings (cached; ImproperlyConfigured when they are wrong)."""
    global _cached
    if _cached is None:
        from django.conf import settings

        _cached = parse(getattr(settings, SETTING, None))
    return _cached


@receiver(setting_changed)
def _reset(setting: str, **kwargs: Any) -> None:
    global _cached
    if setting == SETTING:
        _cached = None


#: Environment variables from_env() reads (the hub's own names where it has one).
ENV_NAMES = {
    "URL": "SWITCHBOARD_BRIDGE_URL",
    "KEY": "SWITCHBOARD_BRIDGE_KEY",
    "SECRET": "SWITCHBOARD_BRIDGE_SECRET",
    "TICKET_SECRET": "SWITCHBOARD_TICKET_SECRET",
    "HUB_HTTP_URL": "SWITCHBOARD_HUB_HTTP_URL",
    "HUB_WS_URL": "SWITCHBOARD_HUB_WS_URL",
    "REALM": "SWITCHBOARD_REALM",
}


def _sender_thread(value: Any) -> bool:
    """OUTBOX["SENDER_THREAD"]: a bool, or None for settings.DEBUG."""
    if value is None:
        from django.conf import settings

        return bool(getattr(settings, "DEBUG", False))
    return _bool("OUTBOX.SENDER_THREAD", value)


def from_env(
    secrets_file: str | Path | None = None, env: Mapping[str, str] | None = None, **overrides: Any
) -> dict[str, Any]:
    """A SWITCHBOARD dict for development: environment variables win, then the hub's secrets file.

    `secrets_file` is the hub's generated `<hub directory>/secrets.env`; missing is fine (production
    sets the variables). Keyword arguments are added as they are (e.g. OUTBOX={...}).
    """
    env = os.environ if env is None else env
    stored = load_env_file(secrets_file) if secrets_file else {}
    result: dict[str, Any] = {}
    for key, name in ENV_NAMES.items():
        value = env.get(name) or stored.get(name)
        if value:
            result[key] = value
    result.update(overrides)
    return result

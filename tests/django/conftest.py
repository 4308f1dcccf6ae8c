"""Django tests: the example site (examples/django_site) under pytest-django, a real hub, real Chromium.

Django is configured here with settings.configure() from tests/django/settings.py, for this
directory only: no DJANGO_SETTINGS_MODULE for other suites' processes to inherit. Without Django
installed these tests are not collected (outside CI) or fail (under CI=true).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "django_site"

try:
    import django
    import pytest_django  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    if os.environ.get("CI"):
        raise ImportError(f"Django tests need the test extra (make test installs it): {e}") from e
    collect_ignore_glob = ["test_*.py"]
    print(f"tests/django: not collected, {e} (make test installs it)", file=sys.stderr)
else:
    if str(EXAMPLE) not in sys.path:
        sys.path.insert(0, str(EXAMPLE))
    # The hub calls Django at this address (IPv4 loopback, as the hub's own transports).
    os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")
    # Playwright's sync API keeps an asyncio loop running in the test thread once a browser is up
    # (also tests/browser's, which lives for the whole session); Django would then refuse every ORM
    # call from the test as "async unsafe". The tests and the code under test are synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from django.conf import settings as django_settings

    if not django_settings.configured:
        from tests.django import settings as test_settings

        django_settings.configure(
            **{name: getattr(test_settings, name) for name in dir(test_settings) if name.isupper()}
        )
    elif getattr(django_settings, "ROOT_URLCONF", None) != "notesite.urls":
        raise RuntimeError(
            "Django was configured before tests/django/conftest.py (DJANGO_SETTINGS_MODULE or "
            "another conftest); these tests need tests/django/settings.py"
        )
    django.setup()

    from tests.django.helpers import FakeClient


@pytest.fixture
def fake_hub(monkeypatch):
    """Delivery goes to an in-memory FakeClient instead of HTTP (unit tests of the outbox)."""
    from switchboard.bridge.django import delivery

    client = FakeClient()
    monkeypatch.setattr(delivery, "make_client", lambda **kwargs: client)
    return client


#: Topics the hub forwards to Django in these tests.
FORWARD_TOPICS = "django.events."


@pytest.fixture(scope="package")
def hub(live_server, tmp_path_factory):
    """A real hub (Crossbar node) whose WAMP-into-Django link points at the live Django server.

    Package-scoped: it stops once this directory's tests are done (pytest-django runs them first).
    """
    from switchboard.router.testing.hub import Hub

    env = {"SWITCHBOARD_DJANGO_URL": live_server.url + "/switchboard", "SWITCHBOARD_FORWARD_TOPICS": FORWARD_TOPICS}
    with Hub.started(tmp_path_factory.mktemp("django-hub"), env=env) as hub:
        wait_for_hub(hub)
        yield hub


def wait_for_hub(hub) -> None:
    """Until the bridge is joined and Django's procedures and forwarded topics are routed."""
    from switchboard.bridge.client import HubClient
    from switchboard.router.testing.hub import wait_until

    with HubClient(hub.bridge_url, hub.bridge_key, hub.bridge_secret, retries=0) as client:
        wait_until(client.health, timeout=30, what="bridge health")
    with hub.backend_client() as backend:
        wait_until(
            lambda: backend.call("wamp.registration.match", "django.ready") is not None,
            timeout=30,
            what="django.* registered by the hub's Django link",
        )
        wait_until(
            lambda: backend.call("wamp.subscription.match", FORWARD_TOPICS + "ready"),
            timeout=30,
            what="forwarded topics subscribed",
        )


@pytest.fixture
def hub_settings(hub, settings):
    """Point SWITCHBOARD at the test hub for one test (restored afterwards)."""
    settings.SWITCHBOARD = {
        "URL": hub.bridge_url,
        "KEY": hub.bridge_key,
        "SECRET": hub.bridge_secret,
        "TICKET_SECRET": hub.ticket_secret,
        "OUTBOX": {"SENDER_THREAD": False, "KEEP_DELIVERED": None},
    }
    return hub

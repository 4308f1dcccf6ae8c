"""pytest fixtures for testing against a real Switchboard hub (registered as a pytest11 plugin).

- `switchboard_hub`: one hub with its components for the whole test session.
- `switchboard_client`: an anonymous session on that hub, closed after the test.

The hub and its client are imported when a fixture is first used, not when pytest loads the plugin:
a project's test run that never asks for them is left as it was (txaio not switched to asyncio).
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def switchboard_hub(tmp_path_factory):
    from switchboard.router.testing.hub import Hub

    with Hub.started(tmp_path_factory.mktemp("switchboard-hub")) as hub:
        yield hub


@pytest.fixture
def switchboard_client(switchboard_hub):
    with switchboard_hub.client() as client:
        yield client

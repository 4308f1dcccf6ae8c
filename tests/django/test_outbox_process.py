"""`manage.py switchboard_outbox` as its own process (the example's manage.py and settings): it
delivers what web processes left in the outbox, picks up new events, and stops cleanly on SIGTERM."""

import os
import signal
import subprocess
import sys

import pytest
from django.db import connection
from switchboard.bridge.django import publish
from switchboard.bridge.django.models import OutboxEvent

from tests.django.conftest import EXAMPLE

pytestmark = pytest.mark.django_db(transaction=True)


def test_outbox_command_delivers_until_sigterm(hub_settings, settings, tmp_path):
    hub = hub_settings
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "OUTBOX": {"SEND_ON_COMMIT": False}}
    for i in range(3):
        publish("public.worker", i)  # left in the outbox, as by a web process whose hub was down
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "notesite.settings",
        "NOTESITE_STATE_DIR": str(tmp_path),
        "NOTESITE_DB": connection.settings_dict["NAME"],  # the test database
        "SWITCHBOARD_SECRETS_FILE": str(tmp_path / "no-secrets.env"),
        "SWITCHBOARD_BRIDGE_URL": hub.bridge_url,
        "SWITCHBOARD_BRIDGE_KEY": hub.bridge_key,
        "SWITCHBOARD_BRIDGE_SECRET": hub.bridge_secret,
        "SWITCHBOARD_TICKET_SECRET": hub.ticket_secret,
    }
    with hub.client() as page:
        events = page.subscribe("public.worker")
        command = [sys.executable, str(EXAMPLE / "manage.py"), "switchboard_outbox", "--interval", "0.2"]
        worker = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert [events.get(timeout=30).args[0] for _ in range(3)] == [0, 1, 2]
            publish("public.worker", "later")  # the loop picks up new events
            assert events.get(timeout=30).args[0] == "later"
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert worker.returncode == 0, output
    assert "SIGTERM, stopping" in output and "switchboard_outbox: stopped" in output
    assert OutboxEvent.objects.pending().count() == 0

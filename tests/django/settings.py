"""Test settings: the example site, with a throw-away database and placeholder hub settings.

Tests that talk to a real hub replace SWITCHBOARD with that hub's URL and secrets (conftest.py).
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_STATE = Path(tempfile.mkdtemp(prefix="switchboard-django-tests-"))
atexit.register(shutil.rmtree, _STATE, ignore_errors=True)
# The example's settings read these while importing; they are not left in the environment.
_ENV = {
    "DJANGO_SECRET_KEY": "tests-only-not-a-secret",
    "NOTESITE_STATE_DIR": str(_STATE),
    "NOTESITE_DB": str(_STATE / "notesite.sqlite3"),
    "SWITCHBOARD_SECRETS_FILE": str(_STATE / "none.env"),
}
_saved = {name: os.environ.get(name) for name in _ENV}
os.environ.update(_ENV)
try:
    from notesite.settings import *  # noqa: E402,F401,F403
finally:
    for _name, _value in _saved.items():
        if _value is None:
            os.environ.pop(_name, None)
        else:
            os.environ[_name] = _value

DATABASES["default"]["TEST"] = {"NAME": str(_STATE / "test.sqlite3")}  # noqa: F405  (a file: threads share it)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

# Port 9 (discard) refuses connections: a test that forgets to point at a real hub fails fast.
SWITCHBOARD = {
    "URL": "http://127.0.0.1:9/bridge/",
    "KEY": "django",
    "SECRET": "placeholder-bridge-secret",
    "TICKET_SECRET": "placeholder-ticket-secret-of-32-bytes-at-least",
    "OUTBOX": {"SENDER_THREAD": False, "KEEP_DELIVERED": None},
}
LOGGING = {"version": 1, "disable_existing_loggers": False}

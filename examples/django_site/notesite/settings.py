"""Settings of the example site: development only (DEBUG, SQLite, generated secret key).

The hub's secrets come from its generated .switchboard/secrets.env (SWITCHBOARD_SECRETS_FILE);
environment variables of the same names win (switchboard.bridge.django.conf.from_env).
"""

import os
import secrets
from pathlib import Path

from switchboard.bridge.django.conf import from_env
from switchboard.bridge.netloc import netloc

BASE_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BASE_DIR.parent.parent
#: Runtime files (database, secret key) live beside the hub's, in the git-ignored .switchboard/.
STATE_DIR = Path(os.environ.get("NOTESITE_STATE_DIR") or REPO_DIR / ".switchboard")
SECRETS_FILE = Path(os.environ.get("SWITCHBOARD_SECRETS_FILE") or STATE_DIR / "secrets.env")


def _secret_key() -> str:
    """DJANGO_SECRET_KEY, else one generated once into .switchboard/django-secret-key (never in git)."""
    if os.environ.get("DJANGO_SECRET_KEY"):
        return os.environ["DJANGO_SECRET_KEY"]
    path = STATE_DIR / "django-secret-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "switchboard.bridge.django",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "notesite.urls"
WSGI_APPLICATION = "notesite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("NOTESITE_DB") or STATE_DIR / "notesite.sqlite3",
        # Wait for a busy database instead of failing; take the write lock at BEGIN (no upgrade deadlocks).
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# The hub: bridge URL, key and secrets (from the environment or the hub's secrets file). In
# development a sender thread delivers what the hub could not take at once (hub restarted, ...).
_HUB_HOST, _HUB_PORT = os.environ.get("SWITCHBOARD_HOST") or "127.0.0.1", os.environ.get("SWITCHBOARD_PORT") or 8080
_HUB = f"http://{netloc(_HUB_HOST, _HUB_PORT)}/"  # an IPv6 SWITCHBOARD_HOST in brackets
SWITCHBOARD = {"URL": _HUB + "bridge/", **from_env(SECRETS_FILE, OUTBOX={"SENDER_THREAD": True})}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"switchboard.bridge.django": {"handlers": ["console"], "level": "INFO"}},
}

"""Minimal Django settings for the load generator and the Channels receiver (a real django.setup())."""

from __future__ import annotations


def configure(cfg: dict) -> None:
    """Configure and set up Django for one benchmark process; `cfg` is the loadgen/receiver config."""
    import django
    from django.conf import settings

    apps = ["django.contrib.contenttypes", "django.contrib.auth"]
    extra: dict = {}
    if cfg.get("layer"):
        apps.append("channels")
        redis = cfg["redis"]
        layer_config: dict = {"hosts": [(redis["host"], redis["port"])]}
        if cfg["layer"].endswith(".core.RedisChannelLayer"):
            layer_config["capacity"] = cfg["capacity"]
        extra["CHANNEL_LAYERS"] = {"default": {"BACKEND": cfg["layer"], "CONFIG": layer_config}}
    if cfg.get("hub"):
        hub = cfg["hub"]
        extra["SWITCHBOARD"] = {
            "URL": hub["bridge_url"],
            "KEY": hub["key"],
            "SECRET": hub["secret"],
            "OUTBOX": {"SENDER_THREAD": False},
        }
    if cfg.get("outbox"):
        apps.append("switchboard.bridge.django")
    settings.configure(
        DEBUG=False,  # DEBUG=True would record every SQL query
        SECRET_KEY="bench-only-not-a-secret",
        USE_TZ=True,
        INSTALLED_APPS=apps,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": cfg.get("db_path") or ":memory:"}},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        LOGGING_CONFIG=None,
        **extra,
    )
    django.setup()

"""`manage.py check` reports a wrong SWITCHBOARD setting before anything tries to use it."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from switchboard.bridge import tickets
from switchboard.bridge.django.conf import parse


@checks.register()
def check_settings(app_configs=None, **kwargs):
    from django.conf import settings

    try:
        cfg = parse(getattr(settings, "SWITCHBOARD", None))
    except ImproperlyConfigured as e:
        return [checks.Error(str(e), hint="See docs/django.md, Settings.", id="switchboard.E001")]
    if cfg.ticket_secret and len(cfg.ticket_secret.encode()) < tickets.MIN_SECRET_BYTES:
        return [
            checks.Warning(
                f'SWITCHBOARD["TICKET_SECRET"] is shorter than {tickets.MIN_SECRET_BYTES} bytes: tickets are '
                "HS256 JWTs, and RFC 7518 asks for a key at least as long as the hash.",
                hint="Use the hub's generated SWITCHBOARD_TICKET_SECRET, or 32 random bytes.",
                id="switchboard.W002",
            )
        ]
    if not cfg.ticket_secret:
        return [
            checks.Warning(
                'SWITCHBOARD["TICKET_SECRET"] is not set: browser sign-in (ticket/) will fail.',
                hint="Use the hub's SWITCHBOARD_TICKET_SECRET.",
                id="switchboard.W001",
            )
        ]
    return []

"""manage.py switchboard_status: is the hub reachable, does it accept this project's signature, and
what does the outbox hold. Exits 1 naming the problem when the hub cannot take events."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from switchboard.bridge.client import HubClient
from switchboard.bridge.django.conf import switchboard
from switchboard.bridge.django.models import OutboxEvent
from switchboard.bridge.errors import NoSuchProcedure, NotAuthorized, SwitchboardError

#: a procedure nobody registers: calling it proves the signature without doing anything
PROBE = "switchboard.status.probe"
TIMEOUT = 5.0


def problem(client: HubClient, url: str) -> str | None:
    """What keeps the hub from taking this project's events, or None."""
    try:
        if not client.health():
            return f"the hub at {url} is unreachable or still starting (GET {url}health)"
    except SwitchboardError as e:
        return f"{url} does not answer as a Switchboard bridge ({e.message}): check SWITCHBOARD['URL']"
    try:
        client.call(PROBE, timeout=TIMEOUT)
    except NotAuthorized as e:
        if e.status == 401:
            return (
                f"the hub refused this project's signature ({e.reason}): SWITCHBOARD['KEY'] and ['SECRET'] "
                f"must be the hub's SWITCHBOARD_BRIDGE_KEY and SWITCHBOARD_BRIDGE_SECRET"
            )
    except NoSuchProcedure:
        pass  # signed and accepted: nobody registers the probe
    except SwitchboardError as e:
        return f"the hub answered a signed request with {e.status} {e.uri}: {e.message}"
    return None


class Command(BaseCommand):
    help = (
        "Say whether the hub is reachable and accepts this project's signature, and what the outbox "
        "holds; exit status 1 naming the problem when the hub cannot take events."
    )

    def handle(self, *args, **options):
        cfg = switchboard()
        client = HubClient(cfg.url, cfg.key, cfg.secret, timeout=TIMEOUT, retries=0)
        try:
            found = problem(client, cfg.url)
        finally:
            client.close()
        state = OutboxEvent.objects.state(timezone.now())
        count, refused = state.pending, state.refused
        held = f", the oldest {state.oldest_age:.0f} s old" if state.oldest_age is not None else ""
        self.stdout.write(f"switchboard_status: hub {cfg.url} (key {cfg.key!r}): {'ok' if found is None else 'NOT OK'}")
        self.stdout.write(
            f"switchboard_status: outbox {count} pending{held}; {refused} refused by the hub, "
            f"waiting to be offered again"
        )
        if found is not None:
            raise CommandError(found)

"""manage.py switchboard_outbox: deliver the outbox to the hub (once with --once, else until stopped)."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from switchboard.bridge.django import delivery, sender
from switchboard.bridge.django.conf import switchboard
from switchboard.bridge.django.models import OutboxEvent


class Command(BaseCommand):
    help = (
        "Deliver pending Switchboard outbox events to the hub, in order per topic. Runs until SIGTERM "
        "or Ctrl-C; --once drains what it can and exits (status 1 if the hub could not take them)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="deliver what is pending now, then exit")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help='seconds between rounds (default SWITCHBOARD["OUTBOX"]["INTERVAL"])',
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="with --once: offer refused events again without waiting for their retry time",
        )

    def handle(self, *args, once=False, interval=None, force=False, **options):
        cfg = switchboard()  # fail fast on bad settings
        if interval is not None and interval <= 0:
            raise CommandError("--interval must be more than 0 seconds")
        if once:
            return self._once(force)
        stop = threading.Event()

        def request_stop(signum, frame):
            self.stdout.write(f"switchboard_outbox: {signal.Signals(signum).name}, stopping after this round")
            stop.set()
            wake.set()

        wake = threading.Event()
        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        self.stdout.write(
            f"switchboard_outbox: delivering to {cfg.url} every {interval or cfg.outbox.interval:g}s (Ctrl-C stops)"
        )
        try:
            sender.run_loop(stop, interval=interval, wake=wake, on_round=self._log_round)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("switchboard_outbox: stopped")

    def _log_round(self, report: delivery.Report) -> None:
        if report.delivered or report.refused or report.error:
            self.stdout.write(f"switchboard_outbox: {report}")

    def _once(self, force: bool) -> None:
        report = delivery.deliver_pending(force=force)
        if report.ok:
            delivery.purge_delivered()
        pending = OutboxEvent.objects.pending().count()
        self.stdout.write(f"switchboard_outbox: {report}; {pending} pending")
        if not report.ok:
            raise CommandError(f"the hub did not take every event: {report.error}")

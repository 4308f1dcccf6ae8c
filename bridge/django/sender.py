"""The delivery loop: drain the outbox, wait, repeat. Run by `manage.py switchboard_outbox` or a thread.

The thread (OUTBOX["SENDER_THREAD"]) starts lazily in a process that serves a request or publishes,
so management commands that do neither never start one.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from django.db import close_old_connections, connections
from switchboard.bridge.django import delivery
from switchboard.bridge.django.conf import switchboard

log = logging.getLogger("switchboard.bridge.django.sender")


def run_round(using: str | None = None) -> delivery.Report:
    """One pass: deliver everything deliverable now, then drop old delivered rows."""
    kwargs = {"using": using} if using else {}
    report = delivery.deliver_pending(**kwargs)
    if report.ok:
        delivery.purge_delivered(**kwargs)
    return report


def run_loop(
    stop: threading.Event,
    *,
    interval: float | None = None,
    wake: threading.Event | None = None,
    on_round: Callable[[delivery.Report], None] | None = None,
) -> None:
    """Deliver until `stop` is set; between rounds wait `interval` seconds or until `wake` is set."""
    wake = wake or threading.Event()
    while not stop.is_set():
        wake.clear()
        try:
            report = run_round()
            if on_round:
                on_round(report)
        except Exception:  # a database hiccup must not end the loop
            log.exception("outbox delivery round failed")
        finally:
            close_old_connections()
        pause = switchboard().outbox.interval if interval is None else interval
        # Wake on new events (or stop); a stop also sets wake, see Sender.stop().
        wake.wait(pause)


class Sender:
    """A daemon thread running run_loop; wake() delivers new events at once."""

    def __init__(self):
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="switchboard-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            run_loop(self._stop, wake=self._wake)
        finally:
            connections.close_all()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


_sender: Sender | None = None
_lock = threading.Lock()


def ensure_started() -> Sender | None:
    """Start this process's sender thread if OUTBOX["SENDER_THREAD"] is on (once)."""
    global _sender
    if not switchboard().outbox.sender_thread:
        return None
    with _lock:
        if _sender is None or not _sender.alive:
            _sender = Sender()
            _sender.start()
        return _sender


def wake() -> None:
    """New events are committed: deliver them now (starting the thread if needed)."""
    sender = ensure_started()
    if sender:
        sender.wake()


def stop() -> None:
    """Stop this process's sender thread (tests, shutdown)."""
    global _sender
    with _lock:
        if _sender is not None:
            _sender.stop()
            _sender = None

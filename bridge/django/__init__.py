"""Switchboard for Django: publish through a transactional outbox, live models, browser sign-in,
and WAMP calls and events into Django. Add "switchboard.bridge.django" to INSTALLED_APPS (app label
`switchboard`) and `path("switchboard/", include("switchboard.bridge.django.urls"))`; see docs/django.md.

    from switchboard.bridge.django import publish, procedure, RPCError

    publish("public.notes.created", {"id": 7})          # in the current transaction

    @procedure("greet")                                # WAMP: django.greet
    def greet(call, name):
        return f"hello {name}, you are {call.authid}"
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from switchboard.bridge.django.rpc import Call, RPCError, procedure

__all__ = ["publish", "publish_event", "procedure", "RPCError", "Call", "deliver_pending"]


def publish(topic: str, *args: Any, **kwargs: Any):
    """Queue an event (args and kwargs are its payload) in the outbox; delivered after commit. Returns the row."""
    from switchboard.bridge.django.outbox import publish as _publish

    return _publish(topic, *args, **kwargs)


def publish_event(
    topic: str,
    args: Iterable[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    id: str | None = None,
    options: Mapping[str, Any] | None = None,
    using: str = "default",
):
    """Queue an event with an explicit id (what the hub de-duplicates on) and publish options."""
    from switchboard.bridge.django.outbox import publish_event as _publish_event

    return _publish_event(topic, args, kwargs, id=id, options=options, using=using)


def deliver_pending(**kwargs: Any):
    """Deliver pending outbox events now (see switchboard.bridge.django.delivery.deliver_pending)."""
    from switchboard.bridge.django.delivery import deliver_pending as _deliver

    return _deliver(**kwargs)

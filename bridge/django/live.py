"""Live models: publish `<topic>.created|updated|deleted` whenever an instance is saved or deleted.

    publish_changes(Note, topic="public.notes", serializer=lambda note: {"id": note.pk, "title": note.title})

or as a class decorator, `@publish_changes(topic="public.notes")`. Events go through the outbox in
the transaction that saved the instance: a rollback publishes nothing. `QuerySet.update()`,
`bulk_create()` and raw fixture loading send no model signals, so they publish nothing.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from django.db import models
from django.db.models.signals import post_delete, post_save
from django.forms.models import model_to_dict
from switchboard.bridge.django.outbox import publish_event

ACTIONS = ("created", "updated", "deleted")


def default_serializer(instance: models.Model) -> dict:
    """The instance's concrete fields (foreign keys as ids) plus "id"; JSON-ready via the outbox encoder."""
    data = model_to_dict(instance, fields=[f.name for f in instance._meta.concrete_fields])
    data["id"] = instance.pk
    return data


def publish_changes(
    model: type[models.Model] | None = None,
    *,
    topic: str | None = None,
    serializer: Callable[[Any], Any] | None = None,
    actions: Iterable[str] = ACTIONS,
    options: dict | None = None,
) -> Any:
    """Connect post_save/post_delete of `model` to the outbox; returns the model (usable as a decorator).

    `topic` defaults to "<app_label>.<model_name>"; the event's single argument is `serializer(instance)`.
    """
    if model is None:
        return lambda cls: publish_changes(cls, topic=topic, serializer=serializer, actions=actions, options=options)
    actions = tuple(actions)
    unknown = set(actions) - set(ACTIONS)
    if unknown:
        raise ValueError(f"unknown action(s) {sorted(unknown)}; use {', '.join(ACTIONS)}")
    base = topic or f"{model._meta.app_label}.{model._meta.model_name}"
    serialize = serializer or default_serializer
    uid = f"switchboard.live:{model._meta.label}:{base}"

    def send(action: str, instance: models.Model, using: str) -> None:
        if action in actions:
            publish_event(f"{base}.{action}", [serialize(instance)], options=options, using=using)

    def on_save(sender, instance, created, raw=False, using="default", **kwargs):
        if not raw:  # loaddata: the fixture's rows are not changes anyone made
            send("created" if created else "updated", instance, using)

    def on_delete(sender, instance, using="default", **kwargs):
        send("deleted", instance, using)

    post_save.connect(on_save, sender=model, weak=False, dispatch_uid=uid)
    post_delete.connect(on_delete, sender=model, weak=False, dispatch_uid=uid)
    return model


def stop_publishing_changes(model: type[models.Model], topic: str | None = None) -> None:
    """Undo publish_changes (tests)."""
    base = topic or f"{model._meta.app_label}.{model._meta.model_name}"
    uid = f"switchboard.live:{model._meta.label}:{base}"
    post_save.disconnect(sender=model, dispatch_uid=uid)
    post_delete.disconnect(sender=model, dispatch_uid=uid)

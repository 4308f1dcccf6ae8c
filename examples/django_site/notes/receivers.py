"""Private notifications: the owner of a note hears about its changes; a user's ping is answered."""

import logging

from django.db.models.signals import post_save
from django.dispatch import receiver
from switchboard.bridge.django import publish
from switchboard.bridge.django.signals import event_received

from notes.models import Note

log = logging.getLogger(__name__)


def notify(user_id, text: str, **extra) -> None:
    """Publish to user.<id>.notifications: only that user's pages may subscribe to it."""
    publish(f"user.{user_id}.notifications", {"text": text, **extra})


@receiver(post_save, sender=Note, dispatch_uid="notes.notify_owner")
def notify_owner(sender, instance, created, raw=False, **kwargs):
    if instance.owner_id and not raw:
        notify(
            instance.owner_id,
            f"Your note “{instance.title}” was {'created' if created else 'updated'}.",
            note=instance.pk,
        )


@receiver(event_received, dispatch_uid="notes.ping")
def on_ping(sender, topic, args, kwargs, publisher, **extra):
    """Pages publish django.events.ping; the hub forwards it here (SWITCHBOARD_FORWARD_TOPICS)."""
    if topic != "django.events.ping":
        return
    if publisher.get("authrole") == "user" and publisher.get("authid"):
        notify(publisher["authid"], "Django got your ping.")
    else:
        log.info("ping from an anonymous page (session %s)", publisher.get("session"))

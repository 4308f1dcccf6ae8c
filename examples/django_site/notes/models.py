from django.conf import settings
from django.db import models
from switchboard.bridge.django.live import publish_changes


def note_json(note: "Note") -> dict:
    """What pages see of a note (public topics: nothing private here)."""
    return {
        "id": note.pk,
        "title": note.title,
        "body": note.body,
        "updated": note.updated.isoformat() if note.updated else None,
    }


@publish_changes(topic="public.notes", serializer=note_json)
class Note(models.Model):
    """Saving or deleting a note publishes public.notes.created|updated|deleted (through the outbox)."""

    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notes",
        help_text="Gets a private notification when the note changes.",
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.title

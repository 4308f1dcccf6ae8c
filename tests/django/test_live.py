"""Live models: saving and deleting publish <topic>.created|updated|deleted through the outbox."""

import pytest
from django.db import models, transaction
from notes.models import Note
from switchboard.bridge.django.live import default_serializer, publish_changes, stop_publishing_changes
from switchboard.bridge.django.models import OutboxEvent

pytestmark = pytest.mark.django_db(transaction=True)


def test_note_changes_publish_created_updated_deleted(fake_hub):
    note = Note.objects.create(title="first", body="b")
    note.title = "renamed"
    note.save()
    pk = note.pk
    note.delete()
    assert [(e["topic"], e["args"][0]["id"], e["args"][0]["title"]) for e in fake_hub.published] == [
        ("public.notes.created", pk, "first"),
        ("public.notes.updated", pk, "renamed"),
        ("public.notes.deleted", pk, "renamed"),
    ]
    assert set(fake_hub.published[0]["args"][0]) == {"id", "title", "body", "updated"}


def test_changes_in_a_rolled_back_transaction_publish_nothing(fake_hub):
    with pytest.raises(RuntimeError), transaction.atomic():
        Note.objects.create(title="never")
        raise RuntimeError
    assert OutboxEvent.objects.count() == 0 and fake_hub.batches == []


def test_owner_gets_a_private_notification_in_the_same_transaction(fake_hub, django_user_model):
    owner = django_user_model.objects.create_user("ann", password="pw")
    fake_hub.published.clear()
    with transaction.atomic():
        Note.objects.create(title="mine", owner=owner)
    topics = [e["topic"] for e in fake_hub.published]
    assert topics == ["public.notes.created", f"user.{owner.pk}.notifications"]
    assert "mine" in fake_hub.published[1]["args"][0]["text"]


def test_raw_saves_from_fixtures_publish_nothing(fake_hub):
    from django.utils import timezone

    Note(title="fixture", updated=timezone.now()).save_base(raw=True)  # as loaddata saves (post_save raw=True)
    assert Note.objects.filter(title="fixture").exists()
    assert [e for e in fake_hub.published if e["topic"].startswith("public.notes")] == []


def test_default_topic_and_serializer_and_selected_actions(fake_hub, django_user_model):
    user_model = django_user_model
    publish_changes(user_model, actions=["created"])
    try:
        user = user_model.objects.create_user("bob", password="pw")
        user.save()
    finally:
        stop_publishing_changes(user_model)
    label = f"{user_model._meta.app_label}.{user_model._meta.model_name}"
    assert [e["topic"] for e in fake_hub.published] == [f"{label}.created"]
    assert fake_hub.published[0]["args"][0]["username"] == "bob"
    assert fake_hub.published[0]["args"][0]["id"] == user.pk


def test_default_serializer_turns_foreign_keys_into_ids(django_user_model):
    owner = django_user_model(pk=5, username="x")
    data = default_serializer(Note(pk=3, title="t", owner=owner))
    assert data["id"] == 3 and data["owner"] == 5


def test_unknown_action_is_refused():
    with pytest.raises(ValueError, match="unknown action"):
        publish_changes(Note, actions=["saved"])


def test_decorator_form_returns_the_model():
    class Thing(models.Model):
        class Meta:
            app_label = "notes"

    assert publish_changes(topic="things")(Thing) is Thing
    stop_publishing_changes(Thing, topic="things")

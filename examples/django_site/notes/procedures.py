"""Procedures browsers call over WAMP (django.<name>); autodiscovered by switchboard.bridge.django."""

from switchboard.bridge.django import RPCError, procedure

from notes.models import Note, note_json


@procedure("greet")
def greet(call, name: str = "") -> dict:
    """django.greet(name): a greeting that knows who is calling."""
    name = (name or "").strip()
    if len(name) > 50:
        raise RPCError("notes.error.invalid_name", "a name has at most 50 characters", length=len(name))
    user = call.user
    who = user.get_username() if user.is_authenticated else "anonymous"
    return {
        "text": f"Hello {name or 'stranger'}, from Django! You are {who}.",
        "authid": call.authid,
        "authrole": call.authrole,
        "username": who,
    }


@procedure("notes.list")
def list_notes(call) -> list:
    """django.notes.list(): every note; pages call it on each (re)connect to catch up."""
    return [note_json(note) for note in Note.objects.all()]

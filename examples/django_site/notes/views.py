from django.shortcuts import render

from notes.models import Note


def index(request):
    """The live page: notes (updated as they change), django.greet, private notifications."""
    return render(request, "notes/index.html", {"notes": Note.objects.all()})

"""Shapes of the events and results components publish: pure functions, no I/O."""

from __future__ import annotations

from datetime import datetime, timezone

CHAT_TOPIC_PREFIX = "chat.room."
PRESENCE_TOPIC_PREFIX = "presence.room."


def iso_utc(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a Z suffix, e.g. 2026-11-21T13:45:00.123Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def chat_topic(room: str) -> str:
    return CHAT_TOPIC_PREFIX + room


def presence_topic(room: str) -> str:
    return PRESENCE_TOPIC_PREFIX + room


def tick(moment: datetime) -> dict:
    return {"time": iso_utc(moment)}


def chat_message(
    *, message_id: str, room: str, text: str, nick: str, session: int | None, authid: str | None, moment: datetime
) -> dict:
    """A chat message as stored and published: the author is who the router says called."""
    return {
        "id": message_id,
        "room": room,
        "text": text,
        "time": iso_utc(moment),
        "author": {"nick": nick, "session": session, "authid": authid},
    }

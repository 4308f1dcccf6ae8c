"""Presence: presence.join/leave/list, and join/leave events on presence.room.<room>.

Departures come from the router's session meta events, not from client goodwill: a closed tab or a
killed process leaves as soon as its transport closes (WebSocket auto-ping bounds a silent loss).
When this component (re)starts, its roster is empty, so it publishes presence.sync and connected
pages join again.
"""

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import RegisterOptions
from components import errors, messages, validation
from components.base import BackendSession, run_standalone
from components.roster import Roster

SYNC_TOPIC = "presence.sync"


class Presence(BackendSession):
    """Registers presence.join(room, nick), presence.leave(room), presence.list(room)."""

    async def setup(self, details):
        self.roster = Roster()
        await self.subscribe(self._on_session_leave, "wamp.session.on_leave")
        with_caller = RegisterOptions(details_arg="details")
        await self.register(self.join_room, "presence.join", options=with_caller)
        await self.register(self.leave_room, "presence.leave", options=with_caller)
        await self.register(self.list_room, "presence.list")
        self.publish(SYNC_TOPIC, {"reason": "presence service started"})

    def _publish(self, room, event, member):
        self.publish(messages.presence_topic(room), {"event": event, "room": room, "member": member})

    def join_room(self, room=None, nick=None, details=None):
        room, nick = validation.room(room), validation.nick(nick)
        if not details or details.caller is None:
            raise ApplicationError(errors.NOT_ALLOWED, "presence needs the caller's session (disclose caller)")
        try:
            member, changed = self.roster.join(room, details.caller, nick, details.caller_authid)
        except OverflowError as e:
            raise ApplicationError(errors.NOT_ALLOWED, str(e)) from None
        if changed:
            self._publish(room, "join", member)
        return self.roster.members(room)

    def leave_room(self, room=None, details=None):
        room = validation.room(room)
        member = self.roster.leave(room, details.caller) if details and details.caller else None
        if member:
            self._publish(room, "leave", member)
        return member is not None

    def list_room(self, room=None):
        return self.roster.members(validation.room(room))

    def _on_session_leave(self, session_id, *args, **kwargs):
        for room, member in self.roster.leave_all(session_id):
            self._publish(room, "leave", member)


if __name__ == "__main__":
    run_standalone(Presence)

"""Presence: presence.join/leave/list, and join/leave events on presence.room.<room>.

Departures come from the router's session meta events, not from client goodwill: a closed tab or a
killed process leaves as soon as its transport closes (WebSocket auto-ping bounds a silent loss).
When this component (re)starts, its roster is empty, so it publishes presence.sync and connected
pages join again.

On a cluster node (SWITCHBOARD_REDIS_URL set) the roster is shared by every node's presence
component, in Redis (components/presence_cluster.py: heartbeats, dead nodes, what a restart does).
"""

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import RegisterOptions
from switchboard.bridge import uris
from switchboard.components import messages, validation
from switchboard.components.base import BackendSession, run_standalone
from switchboard.components.roster import Roster, member_id
from switchboard.router import settings as S
from twisted.internet.defer import ensureDeferred

SYNC_TOPIC = "presence.sync"


class Presence(BackendSession):
    """Registers presence.join(room, nick, client=None), presence.leave(room), presence.list(room)."""

    #: the shared roster on a cluster node, else None (the in-memory `roster`)
    cluster = None

    async def setup(self, details):
        self.roster = Roster()
        url = S.runtime().redis_url
        if url:
            from switchboard.components.presence_cluster import ClusterPresence

            self.cluster = ClusterPresence.for_node(self, url, details.realm, self._publish)
        await self.subscribe(self._on_session_leave, "wamp.session.on_leave")
        with_caller = RegisterOptions(details_arg="details")
        await self.register(self.join_room, "presence.join", options=with_caller)
        await self.register(self.leave_room, "presence.leave", options=with_caller)
        await self.register(self.list_room, "presence.list")
        if self.cluster:
            self.cluster.start()  # its first heartbeat resyncs: presence.sync to this node's sessions
        else:
            self.publish(SYNC_TOPIC, {"reason": "presence service started"})

    def onLeave(self, details):
        if self.cluster:
            self.cluster.stop()
        return super().onLeave(details)

    def _publish(self, room, event, member):
        self.publish(messages.presence_topic(room), {"event": event, "room": room, "member": member})

    def join_room(self, room=None, nick=None, client=None, details=None):
        room, nick, client = validation.room(room), validation.nick(nick), validation.client_id(client)
        if not details or details.caller is None:
            raise ApplicationError(uris.NOT_ALLOWED, "presence needs the caller's session (disclose caller)")
        member = member_id(details.caller, details.caller_authrole, details.caller_authid, client)
        # Only a signed-in user's authid names a person; an anonymous authid is per session.
        authid = details.caller_authid if details.caller_authrole == "user" else None
        if self.cluster:
            return ensureDeferred(self.cluster.join(room, details.caller, member, nick, authid))
        try:
            member, changed = self.roster.join(room, details.caller, member, nick, authid)
        except OverflowError as e:
            raise ApplicationError(uris.NOT_ALLOWED, str(e)) from None
        if changed:
            self._publish(room, "join", member)
        return self.roster.members(room)

    def leave_room(self, room=None, details=None):
        room = validation.room(room)
        if not details or details.caller is None:
            return False
        if self.cluster:
            return ensureDeferred(self.cluster.leave(room, details.caller))
        if not self.roster.present(room, details.caller):
            return False
        member = self.roster.leave(room, details.caller)
        if member:  # that was the member's last session in the room
            self._publish(room, "leave", member)
        return True

    def list_room(self, room=None):
        room = validation.room(room)
        return ensureDeferred(self.cluster.members(room)) if self.cluster else self.roster.members(room)

    def _on_session_leave(self, session_id, *args, **kwargs):
        if self.cluster:
            return self.cluster.session_ended(session_id)
        for room, member in self.roster.leave_all(session_id):
            self._publish(room, "leave", member)


if __name__ == "__main__":
    run_standalone(Presence)

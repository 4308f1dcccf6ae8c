"""Chat rooms: chat.post validates, stamps and publishes to chat.room.<room>; chat.rooms lists them."""

import uuid

from autobahn.wamp.types import PublishOptions, RegisterOptions
from switchboard.bridge import limits
from switchboard.components import messages, validation
from switchboard.components.base import BackendSession, run_standalone
from switchboard.components.rooms import Rooms
from twisted.logger import Logger

log = Logger()


class Chat(BackendSession):
    """Registers chat.post(room, text, nick) and chat.rooms()."""

    async def setup(self, details):
        self.rooms = Rooms(max_rooms=limits.value("chat_max_rooms"))
        self._full_logged = False
        options = RegisterOptions(details_arg="details")
        await self.register(self.post, "chat.post", options=options)
        await self.register(self.list_rooms, "chat.rooms")

    async def post(self, room=None, text=None, nick=None, details=None):
        room, text, nick = validation.room(room), validation.text(text), validation.nick(nick)
        message = messages.chat_message(
            message_id=uuid.uuid4().hex,
            room=room,
            text=text,
            nick=nick,
            session=details.caller if details else None,
            authid=details.caller_authid if details else None,
            moment=messages.now_utc(),
        )
        await self.publish(messages.chat_topic(room), message, options=PublishOptions(acknowledge=True))
        if self.rooms.add(room) and not self._full_logged:
            self._full_logged = True  # once per process: a full table is a steady state, not news per post
            log.info(
                "chat: {n} rooms listed, the most chat_max_rooms allows: a new room now drops the least "
                "recently active one from chat.rooms (its history stays)",
                n=len(self.rooms),
            )
        return message

    def list_rooms(self):
        return self.rooms.active()


if __name__ == "__main__":
    run_standalone(Chat)

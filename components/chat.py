"""Chat rooms: chat.post validates, stamps and publishes to chat.room.<room>; chat.rooms lists them."""

import uuid

from autobahn.wamp.types import PublishOptions, RegisterOptions

from components import messages, validation
from components.base import BackendSession, run_standalone
from components.rooms import Rooms


class Chat(BackendSession):
    """Registers chat.post(room, text, nick) and chat.rooms()."""

    async def setup(self, details):
        self.rooms = Rooms()
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
        self.rooms.add(room, message)
        return message

    def list_rooms(self):
        return self.rooms.active()


if __name__ == "__main__":
    run_standalone(Chat)

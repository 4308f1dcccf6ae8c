"""The callee of the layout measurement's RPC load (router/node/layout_load.py): a backend component
in a container worker, as the app's are, so the calls take the path theirs take."""

from switchboard.components.base import BackendSession
from switchboard.router.node.layout_wire import ECHO_PROCEDURE


def echo(payload=None):
    return payload


class Echo(BackendSession):
    """Registers switchboard.layout.echo(payload) -> payload."""

    async def setup(self, details):
        await self.register(echo, ECHO_PROCEDURE)

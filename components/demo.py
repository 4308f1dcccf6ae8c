"""demo.add2: the smallest useful RPC, for trying the hub from a browser or a script."""

from switchboard.components import validation
from switchboard.components.base import BackendSession, run_standalone


def add2(a=None, b=None):
    return validation.number(a, "a") + validation.number(b, "b")


class Demo(BackendSession):
    """Registers demo.add2(a, b) -> a + b."""

    async def setup(self, details):
        await self.register(add2, "demo.add2")


if __name__ == "__main__":
    run_standalone(Demo)

"""clock.tick: server push without polling; retained, so a new subscriber sees the last tick at once."""

from autobahn.wamp.types import PublishOptions
from switchboard.components import messages
from switchboard.components.base import BackendSession, run_standalone
from twisted.internet.task import LoopingCall

TOPIC = "clock.tick"
#: Seconds between ticks.
INTERVAL = 1.0


class Clock(BackendSession):
    """Publishes {"time": <ISO-8601 UTC>} on clock.tick every second, retained."""

    async def setup(self, details):
        options = PublishOptions(retain=True)
        self._ticker = LoopingCall(lambda: self.publish(TOPIC, messages.tick(messages.now_utc()), options=options))
        self._ticker.start(INTERVAL, now=True)

    def onLeave(self, details):
        if getattr(self, "_ticker", None) and self._ticker.running:
            self._ticker.stop()
        super().onLeave(details)


if __name__ == "__main__":
    run_standalone(Clock)

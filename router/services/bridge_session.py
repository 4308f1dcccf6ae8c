"""The WAMP session the HTTP bridge publishes and calls through.

A router component, so it lives in the router worker beside the bridge resource and talks to the
router in memory. The resource finds it through `current()`.
"""

from __future__ import annotations

from autobahn.twisted.wamp import ApplicationSession

_current: ApplicationSession | None = None


def current() -> ApplicationSession | None:
    """The joined bridge session, or None while the router is (re)starting it."""
    return _current if _current is not None and _current.is_attached() else None


class BridgeSession(ApplicationSession):
    def onJoin(self, details):
        global _current
        _current = self

    def onLeave(self, details):
        global _current
        if _current is self:
            _current = None
        super().onLeave(details)

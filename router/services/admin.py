"""The dashboard's router-side procedures (web/admin.html), for sessions with role `admin`.

A router component (in the router worker, like /metrics) so it reads the counters and the broker in
this process: one call a second gives the dashboard everything its charts need, where the meta API
would take a call per topic.

    switchboard.admin.stats()          the counters (cumulative: the page takes rates from two of
                                       them), sessions by role, and the topics with their
                                       subscribers and publications
    switchboard.admin.since(ids)       when each of these sessions joined (unix seconds)

Sessions, registrations and kicking go through Crossbar's meta API (wamp.session.*,
wamp.registration.*), which the `admin` role may call. Join times are this service's own: it
subscribes to wamp.session.on_join/on_leave (one event more per join and leave); sessions that joined
before it, the router's other services, count from its start.
"""

from __future__ import annotations

import time

from autobahn.twisted.wamp import ApplicationSession
from switchboard.router.patches import counting
from switchboard.router.services.admin_stats import SINCE, STATS, check_ids, stats
from switchboard.router.services.session import CheckedArguments, QuietApplicationErrors


class Admin(CheckedArguments, QuietApplicationErrors, ApplicationSession):
    """Registers the dashboard's procedures and keeps every session's join time."""

    async def onJoin(self, details):
        self._started = time.time()
        self._joined: dict[int, float] = {}
        await self.subscribe(self._on_join, "wamp.session.on_join")
        await self.subscribe(self._on_leave, "wamp.session.on_leave")
        await self.register(self.stats, STATS)
        await self.register(self.since, SINCE)

    def _on_join(self, session_details):
        session = (session_details or {}).get("session") if isinstance(session_details, dict) else None
        if isinstance(session, int):
            self._joined[session] = time.time()

    def _on_leave(self, session_id, *rest):
        self._joined.pop(session_id, None)

    def stats(self):
        return stats(counting.routers, time.time())

    def since(self, ids):
        return {str(i): self._joined.get(i, self._started) for i in check_ids(ids) if self._is_joined(i)}

    @staticmethod
    def _is_joined(session_id: int) -> bool:
        return any(session_id in router._session_id_to_session for router in list(counting.routers))

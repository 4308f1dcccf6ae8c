"""Presence on a cluster node: the shared roster (presence_redis) driven from the reactor.

Every Redis call runs on a thread: one for the roster's changes, in the order they came (a join, then
the session's end, must not be swapped), one for the heartbeat, so a burst of joins does not delay
it. Only this node's changes are published here; the relay carries them to the other nodes.

What a (re)starting component does, and a component whose heartbeat had expired (Redis was away, or
this process stalled, for longer than HEARTBEAT_TTL) once it beats again: it "resyncs". The shared
roster outlived it, but sessions of this node recorded there may have ended meanwhile (after a crash
the whole node restarts: every one of them did) and no one saw them go; and other nodes may have
removed this node's live sessions, taking it for dead. So it asks its router which sessions are
alive (wamp.session.list), removes the others of this node from every room (publishing the leaves),
and publishes presence.sync to this node's live sessions only, which join again. Pages on the other
nodes are not asked.

Redis down: presence.join/leave/list answer switchboard.error.unavailable; sessions that end
meanwhile are kept and removed once Redis answers again. One log line when it goes, one when back.
"""

from __future__ import annotations

import os

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions
from switchboard.bridge import uris
from switchboard.components import presence_store as store
from switchboard.components.presence_redis import SharedRoster
from switchboard.router import settings as S
from switchboard.router.cluster import link
from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

log = Logger()

SYNC_TOPIC = "presence.sync"
UNAVAILABLE_MESSAGE = "presence is unavailable: the cluster's Redis does not answer; try again later"


class ClusterPresence:
    """`session`: the presence component (publish, call); `publish_member(room, event, member)`."""

    def __init__(self, session, roster: SharedRoster, publish_member, clock=reactor):
        self.roster = roster
        self._session, self._publish_member, self.clock = session, publish_member, clock
        self._ops = ThreadPool(1, 1, name="switchboard-presence")
        self._beats = ThreadPool(1, 1, name="switchboard-presence-beat")
        self._lost = False
        #: sessions that ended while Redis did not answer: removed once it does
        self._pending: set[int] = set()
        #: since when this node's heartbeat has held (None: not beating): it reaps only after a TTL
        self._beating_since: float | None = None
        self._beating = self._resyncing = False
        self._resync_needed = True
        self._loop = LoopingCall(self._tick)
        self._loop.clock = clock

    @classmethod
    def for_node(cls, session, url: str, realm: str, publish_member) -> "ClusterPresence":
        node = store.this_node(os.environ.get(S.ENV_NODE_CONFIG), S.runtime().component_url)
        return cls(session, SharedRoster.connect(url, realm, node), publish_member)

    def start(self) -> None:
        for pool in (self._ops, self._beats):
            pool.start()
        reactor.addSystemEventTrigger("during", "shutdown", self.stop)
        self._loop.start(store.HEARTBEAT_INTERVAL, now=True)

    def stop(self) -> None:
        """The session left (or the process stops): no more beats; the threads end once idle."""
        if self._loop.running:
            self._loop.stop()
        for pool in (self._ops, self._beats):
            if pool.started and not pool.joined:
                pool.stop()

    # --- the procedures ---------------------------------------------------------------------------
    async def join(self, room: str, session: int, member: str, nick: str, authid: str | None) -> list:
        record, changed, members = await self._call(self.roster.join, room, session, member, nick, authid)
        if changed:
            self._publish_member(room, "join", record)
        return members

    async def leave(self, room: str, session: int) -> bool:
        present, record = await self._call(self.roster.leave, room, session)
        if record:
            self._publish_member(room, "leave", record)
        return present

    async def members(self, room: str) -> list:
        return await self._call(self.roster.members, room)

    def session_ended(self, session: int) -> None:
        """wamp.session.on_leave of a session on this node: it leaves every room it was in."""
        self._pending.discard(session)
        d = deferToThreadPool(reactor, self._ops, self.roster.leave_all, session)

        def failed(failure):
            failure.trap(link.Error)
            self._pending.add(session)
            self._went_away(failure.value)

        d.addCallbacks(self._publish_leaves, failed)
        d.addErrback(lambda f: log.failure("presence: removing session {s} failed", failure=f, s=session))

    async def _call(self, fn, *args):
        try:
            result = await deferToThreadPool(reactor, self._ops, fn, *args)
        except OverflowError as e:
            raise ApplicationError(uris.NOT_ALLOWED, str(e)) from None
        except link.Error as e:
            self._went_away(e)
            raise ApplicationError(uris.UNAVAILABLE, UNAVAILABLE_MESSAGE) from None
        self._came_back()
        return result

    def _publish_leaves(self, leaves) -> None:
        for room, member in leaves:
            self._publish_member(room, "leave", member)

    # --- Redis going and coming back: one line each ---------------------------------------------
    def _went_away(self, error) -> None:
        self._beating_since = None
        if not self._lost:
            self._lost = True
            log.warn(
                "presence: the cluster's Redis does not answer ({why}): presence calls answer {uri} until it is back",
                why=str(error) or type(error).__name__,
                uri=uris.UNAVAILABLE,
            )

    def _came_back(self) -> None:
        if self._lost:
            self._lost = False
            log.info("presence: the cluster's Redis answers again")
        for session in list(self._pending):
            self.session_ended(session)

    # --- heartbeat, dead nodes, resync ----------------------------------------------------------
    def _tick(self) -> None:
        if self._beating:  # the previous beat still waits on Redis
            return
        self._beating = True
        reap = store.may_reap(self.clock.seconds(), self._beating_since)
        d = deferToThreadPool(reactor, self._beats, self._beat, reap)
        d.addCallbacks(self._beaten, self._beat_failed)
        d.addErrback(lambda f: log.failure("presence: heartbeat failed", failure=f))

    def _beat(self, reap: bool):
        """On the heartbeat thread."""
        alive = self.roster.beat()
        dead, leaves = self.roster.reap() if alive and reap else ([], [])
        return alive, dead, leaves

    def _beaten(self, result) -> None:
        self._beating = False
        alive, dead, leaves = result
        if not alive or self._beating_since is None:
            self._beating_since = self.clock.seconds()
        if not alive:
            self._resync_needed = True
        self._came_back()
        if dead:
            log.info(
                "presence: node(s) {nodes} stopped beating: {n} member(s) left their rooms",
                nodes=", ".join(dead),
                n=len(leaves),
            )
        self._publish_leaves(leaves)
        if self._resync_needed and not self._resyncing:
            self._resyncing = True
            d = self._resync()
            d.addErrback(lambda f: log.failure("presence: resync failed", failure=f))

    def _beat_failed(self, failure) -> None:
        self._beating = False
        failure.trap(link.Error)
        self._went_away(failure.value)

    def _resync(self):
        return ensureDeferred(self._resync_now())

    async def _resync_now(self) -> None:
        try:
            live = set(await self._session.call("wamp.session.list"))
            leaves = await deferToThreadPool(reactor, self._ops, self._drop_ended, live)
        except link.Error as e:
            self._went_away(e)  # again at the next beat that Redis answers
            return
        finally:
            self._resyncing = False
        self._resync_needed = False
        self._publish_leaves(leaves)
        audience = sorted(live - {self._session._session_id})
        if audience:
            options = PublishOptions(eligible=audience)
            self._session.publish(SYNC_TOPIC, {"reason": "presence service started"}, options=options)

    def _drop_ended(self, live: set[int]) -> list:
        """On the roster's thread: this node's sessions in the roster that its router no longer has."""
        leaves = []
        for session in sorted(self.roster.sessions() - live):
            leaves.extend(self.roster.leave_all(session))
        return leaves

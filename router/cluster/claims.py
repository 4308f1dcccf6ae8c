"""The cluster's replay memory in Redis, as pure rules: what is asked of Redis and what its answers mean.

A node on its own checks used ticket ids, bridge nonces and published event ids in memory
(switchboard.bridge.replay) and writes them behind to SQLite. A cluster node asks Redis instead, so
each is accepted once whichever node it reaches (router/cluster/replay.py does the I/O, on a thread):

- A ticket id or a nonce is accepted by `SET key 1 NX PX ttl`: one atomic command that records it
  and says whether it was there already. The key expires with the window in which it could be
  replayed (ticket lifetime plus leeway, twice the signing window), so the TTL bounds Redis's memory
  as the caps of bridge/replay.py bound the node's; a full Redis (maxmemory with the default
  `noeviction` policy) refuses the SET and the request is refused, never accepted unchecked.
- An event id is claimed before its publish (CLAIM_ID: PENDING for up to PENDING_TTL), marked
  DONE with the 24 h window once the router acknowledged it, and released (RELEASE_ID) if the
  publish failed, so a retry publishes it. The same id sent to another node meanwhile waits while
  it is PENDING, then answers `duplicate` (DONE) or publishes it itself (released): what one node's
  in-flight table does (router/services/bridge_http.py), across nodes.

`Outage` is the one decision for an unreachable Redis: refuse at once for RETRY_SECONDS after a
failure, then let requests try again; the first failure and the recovery are each one log line.
"""

from __future__ import annotations

import time
from typing import Callable

from switchboard.bridge.replay import ReplayCacheFull

#: an event id's states in Redis: being published (its value), published (its value)
PENDING_MARK, DONE_MARK = "p", "d"
#: what CLAIM_ID answers
NEW, DONE, PENDING = 0, 1, 2
#: seconds an event id stays PENDING at most (a node that died mid-publish holds it no longer)
PENDING_TTL = 30.0
#: seconds between two looks at an id another request is publishing
POLL_SECONDS = 0.05
#: seconds a node refuses at once after Redis failed, before it asks again
RETRY_SECONDS = 1.0

#: KEYS[1] the id's key; ARGV: the pending mark, the pending TTL (ms). NEW (now PENDING), DONE or PENDING.
CLAIM_ID = """
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 0
end
if v == ARGV[1] then return 2 end
return 1
"""
#: KEYS[1] the id's key; ARGV[1] the pending mark: a failed publish gives its claim back (not a DONE one)
RELEASE_ID = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ReplayUnavailable(ReplayCacheFull):
    """Redis cannot check the key: refuse the request (HTTP 503, a ticket_invalid abort), never accept it.
    A ReplayCacheFull, so every caller's refusal of a full cache applies as it is."""


def milliseconds(seconds: float) -> int:
    """A TTL for PX: whole milliseconds, at least 1."""
    return max(1, int(seconds * 1000))


def first_use(reply) -> bool:
    """What `SET key 1 NX PX ttl` answered: True if the key was not there (now it is)."""
    return reply is True or reply == b"OK" or reply == "OK"


def claim_state(reply) -> int:
    """What CLAIM_ID answered, checked: NEW, DONE or PENDING."""
    if reply not in (NEW, DONE, PENDING):
        raise ReplayUnavailable(f"Redis answered {reply!r} to an event id claim")
    return int(reply)


class Outage:
    """Whether Redis is taken as gone: set by the thread that talks to it, read by the reactor.

    `failed(why)` after a failed round trip (True the first time: log it); `recovered()` after a
    good one (True if it was gone: log that); `refusing()` says why while requests are refused at
    once, None once RETRY_SECONDS have passed and they may try again.
    """

    def __init__(self, retry: float = RETRY_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._retry, self._clock = retry, clock
        self.reason: str | None = None
        self._until = float("-inf")

    def refusing(self) -> str | None:
        reason = self.reason
        return reason if reason is not None and self._clock() < self._until else None

    def failed(self, why: str) -> bool:
        first = self.reason is None
        self.reason, self._until = why, self._clock() + self._retry
        return first

    def recovered(self) -> bool:
        was_down = self.reason is not None
        self.reason = None
        return was_down


def refusal(why: str) -> str:
    """What a refused client is told."""
    return f"the cluster's replay memory (Redis) is unreachable ({why}): not checked, so refused; retry shortly"

"""When to send a bridge request again, and how long to wait first: pure functions, randomness injected.

Publishing is safe to repeat (every event carries an id and the hub drops ids it has published), so
it is retried on anything transient. A call is not idempotent: it is repeated only when the hub
certainly did not run it — the connection was never made, or the hub answered 503 (bridge session
not joined) — and never after a timeout, when the callee may still be working on it.
"""

from __future__ import annotations

import random
from typing import Callable, Iterator

from switchboard.bridge.errors import HubUnavailable, SwitchboardError

#: Statuses after which a publish is sent again: router trouble, bridge not joined, timeout.
PUBLISH_RETRY_STATUSES = frozenset({502, 503, 504})
#: Statuses after which a call is sent again: only "the bridge session is not joined".
CALL_RETRY_STATUSES = frozenset({503})
#: No single wait is longer than this, however many retries.
MAX_DELAY = 10.0


def backoff(attempt: int, base: float, cap: float = MAX_DELAY, factor: float = 2.0) -> float:
    """The wait before retry `attempt` (0 for the first): base·factor^attempt, at most `cap`. The one
    exponential backoff of the bridge client, the outbox, the Django link and the supervisor."""
    return min(cap, base * factor**attempt)


def backoff_delays(
    retries: int, base: float, *, factor: float = 2.0, cap: float = MAX_DELAY, rand: Callable[[], float] = random.random
) -> Iterator[float]:
    """The waits before retry 1..`retries`: base·factor^i capped at `cap`, each scaled by a random 50–100 %.

    The random half ("equal jitter") spreads the retries of many clients hitting a restarting hub,
    while the kept half still gives the hub time to come back.
    """
    for attempt in range(retries):
        yield backoff(attempt, base, cap, factor) * (0.5 + 0.5 * rand())


def should_retry(error: SwitchboardError, *, idempotent: bool) -> bool:
    """Whether the request that failed with `error` may be sent again.

    `idempotent` is True for publishing (repeats are de-duplicated by event id), False for calls.
    """
    if error.status is None:  # no HTTP answer at all
        if not isinstance(error, HubUnavailable):
            return False
        return idempotent or not error.maybe_processed
    return error.status in (PUBLISH_RETRY_STATUSES if idempotent else CALL_RETRY_STATUSES)

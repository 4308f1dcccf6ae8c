"""Connections to the cluster's Redis, from SWITCHBOARD_REDIS_URL (redis-py, on threads).

redis-py is synchronous: the router and the components use it only on threads of their own (the
relay's two, the history writer), never on the reactor. URLs are redis-py's: redis://host:port/db,
rediss:// for TLS, unix:///path/to/redis.sock; a password goes in the URL (redis://:secret@host).
"""

from __future__ import annotations

import redis
import redis.backoff
import redis.retry

#: seconds to connect, and to wait for any reply, before the connection counts as lost
CONNECT_TIMEOUT = 5.0
REPLY_TIMEOUT = 10.0
#: seconds of silence after which a connection is checked with a PING before it is used
HEALTH_CHECK_INTERVAL = 15

Error = redis.RedisError
#: Redis answered, with an error: a command it does not allow (a managed Redis may rename some)
Refused = redis.ResponseError


def client(url: str, *, reply_timeout: float | None = REPLY_TIMEOUT, reconnect: bool = True) -> redis.Redis:
    """A client (its own pool) for `url`; `reply_timeout=None` for a connection that waits on pub/sub.

    `reconnect=False`: a lost connection raises at once (link.Error) and is not connected again under
    its caller. A pub/sub listener needs that: redis-py reconnects and subscribes again inside a read
    that failed, and may still raise, so a listener that then subscribes anew on a client of its own
    had, for a moment, two subscriptions, and lost what Redis sent to the one it closed."""
    kwargs = {} if reconnect else {"retry": redis.retry.Retry(redis.backoff.NoBackoff(), 0, supported_errors=())}
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=reply_timeout,
        health_check_interval=HEALTH_CHECK_INTERVAL,
        **kwargs,
    )


def reachable(url: str) -> str | None:
    """None if Redis at `url` answers a PING, else why not (for one line at start)."""
    try:
        client(url).ping()
    except redis.RedisError as e:
        return str(e) or type(e).__name__
    return None

"""Connections to the cluster's Redis, from SWITCHBOARD_REDIS_URL (redis-py, on threads).

redis-py is synchronous: the router and the components use it only on threads of their own (the
relay's two, the history writer), never on the reactor. URLs are redis-py's: redis://host:port/db,
rediss:// for TLS, unix:///path/to/redis.sock; a password goes in the URL (redis://:secret@host).
"""

from __future__ import annotations

import redis

#: seconds to connect, and to wait for any reply, before the connection counts as lost
CONNECT_TIMEOUT = 5.0
REPLY_TIMEOUT = 10.0
#: seconds of silence after which a connection is checked with a PING before it is used
HEALTH_CHECK_INTERVAL = 15

Error = redis.RedisError
#: Redis answered, with an error: a command it does not allow (a managed Redis may rename some)
Refused = redis.ResponseError


def client(url: str, *, reply_timeout: float | None = REPLY_TIMEOUT) -> redis.Redis:
    """A client (its own pool) for `url`; `reply_timeout=None` for a connection that waits on pub/sub."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=reply_timeout,
        health_check_interval=HEALTH_CHECK_INTERVAL,
    )


def reachable(url: str) -> str | None:
    """None if Redis at `url` answers a PING, else why not (for one line at start)."""
    try:
        client(url).ping()
    except redis.RedisError as e:
        return str(e) or type(e).__name__
    return None

"""One log line as JSON (SWITCHBOARD_LOG_FORMAT=json): the record's shape, defined once for the node's
own log (router/node/logview.py) and the lines `switchboard run` prints itself. No Twisted here: the
CLI imports it without the [hub] extra."""

from __future__ import annotations

import json
import os
import time


def record(stamp: float | None, level: str, source: str, namespace: str, text: str) -> str:
    """time (UTC, ISO 8601, milliseconds), level, process ("Router 1234"), namespace, message."""
    stamp = time.time() if stamp is None else stamp
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1000):03d}Z"
    fields = {"time": when, "level": level, "system": source, "namespace": namespace, "message": text}
    return json.dumps(fields, ensure_ascii=False, default=repr)


def own_line(message: str, log_format: str, level: str = "info") -> str:
    """A line `switchboard run` prints itself (hub is up, restarting, stopped) in the node's format."""
    if log_format != "json":
        return f"switchboard: {message}"
    return record(None, level, f"switchboard {os.getpid()}", "switchboard.run", message)

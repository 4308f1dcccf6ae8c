"""What the hub's own log says it did to the bad clients: slow consumers dropped by the send buffer
limit, connections refused by the per-address limits, protocol errors, tracebacks. The clients see a
reset or a close; only the log says which defence it was."""

from __future__ import annotations

import re
from collections import Counter

SLOW_DROPPED = re.compile(r"slow consumer tcp\d?:([^\s:]+):\d+ dropped")
REFUSED = re.compile(r"refused (\d+) connection\(s\) from (\S+) in")
PROTOCOL_ERROR = re.compile(r"client \S+: WAMP protocol error")
NOT_LOGGED = re.compile(r"(\d+) more client protocol errors in the last")
TRACEBACK = "Traceback (most recent call last)"
#: what makes two log lines the same kind: the text without its time, pid, addresses, numbers and quotes
_STAMP = re.compile(r"^\S+ \[(\w+)\s+\d+\] ")
_VARIABLE = re.compile(r"tcp\d?:[\d.]+:\d+|\d+|\"[^\"]*\"|'[^']*'|\([^()]*\)")


def kinds(text: str, top: int = 6) -> list[list]:
    """The kinds of line that took most of `text`: [kind, lines, bytes], largest first."""
    lines, size = Counter(), Counter()
    for line in text.splitlines():
        m = _STAMP.match(line)
        kind = (m.group(1) + " " if m else "") + _VARIABLE.sub("…", line[m.end() :] if m else line)[:100]
        lines[kind] += 1
        size[kind] += len(line) + 1
    return [[kind, lines[kind], size[kind]] for kind, _ in size.most_common(top)]


def read(text: str) -> dict:
    """Counts from a log's text (by client address where the line names one)."""
    dropped, refused = Counter(), Counter()
    for m in SLOW_DROPPED.finditer(text):
        dropped[m.group(1)] += 1
    for m in REFUSED.finditer(text):
        refused[m.group(2)] += int(m.group(1))
    logged = len(PROTOCOL_ERROR.findall(text))
    return {
        "slow_consumers_dropped": dict(dropped),
        "connections_refused": dict(refused),
        "protocol_errors_logged": logged,
        "protocol_errors_not_logged": sum(int(n) for n in NOT_LOGGED.findall(text)),
        "tracebacks": text.count(TRACEBACK),
    }

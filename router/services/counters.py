"""What the router counts on its hot paths, as plain integers: the patches and services add to them
(a dict increment, no lock, no label lookup) and /metrics (router/services/metrics.py) reads them when
it is scraped. Kept apart from prometheus_client so a patch costs the same whether or not anyone
scrapes. One router worker, one reactor thread: nothing here is shared across threads, but for
`history`, which only the history component's writer thread adds to (one writer; /metrics reads).
"""

from __future__ import annotations

from collections import Counter

from switchboard.bridge import limits
from switchboard.router.services.call_stats import CallStats

#: WAMP messages the router received from its sessions, by message type code
received: Counter[int] = Counter()
#: WAMP messages the router sent to its sessions' transports, by message type code (EVENT: deliveries)
sent: Counter[int] = Counter()
#: requests and connections refused by a guard, by reason (an error URI or a limit's name)
refused: Counter[str] = Counter()
#: connections the router aborted, by reason ("slow_consumer")
dropped: Counter[str] = Counter()
#: calls by procedure and outcome, their latency, the calls in flight (router/patches/counting.py)
calls = CallStats(int(limits.LIMITS["metrics_procedures"].default))
#: bytes of WAMP messages sent to (and received from) the connections that have closed, by transport
#: ("websocket", "rawsocket"); /metrics adds the open ones' (their serializer's own counts)
bytes_sent: Counter[str] = Counter()
bytes_received: Counter[str] = Counter()
#: the history store (router/services/history.py): events written, and after each write batch the
#: events it holds and the bytes of its pages; "events" stays None while no history component runs
history: dict[str, int | None] = {"writes": 0, "events": None, "bytes": None}

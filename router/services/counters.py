"""What the router counts on its hot paths, as plain integers: the patches and services add to them
(a dict increment, no lock, no label lookup) and /metrics (router/services/metrics.py) reads them when
it is scraped. Kept apart from prometheus_client so a patch costs the same whether or not anyone
scrapes. One router worker, one reactor thread: nothing here is shared across threads.
"""

from __future__ import annotations

from collections import Counter

#: WAMP messages the router received from its sessions, by message type code
received: Counter[int] = Counter()
#: WAMP messages the router sent to its sessions' transports, by message type code (EVENT: deliveries)
sent: Counter[int] = Counter()
#: requests and connections refused by a guard, by reason (an error URI or a limit's name)
refused: Counter[str] = Counter()
#: connections the router aborted, by reason ("slow_consumer")
dropped: Counter[str] = Counter()

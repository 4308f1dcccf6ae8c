"""What the dashboard's router-side procedures answer (router/services/admin.py), read from the routers
and the counters in this process; no I/O, no session, so tests import it under any event loop."""

from __future__ import annotations

from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import uris
from switchboard.router.patches import counting, relay
from switchboard.router.services import counters, metrics

STATS = "switchboard.admin.stats"
SINCE = "switchboard.admin.since"
#: topics the stats list at most, those with the most subscribers first; `topics_total` counts all
MAX_TOPICS = 200
#: roles of sessions the meta API leaves out (Crossbar's is_restricted_session), and so do the stats
RESTRICTED_ROLES = (None, "trusted")
#: session ids one since() call takes at most
MAX_SINCE = 1000


def stats(routers, now: float) -> dict:
    """What switchboard.admin.stats answers: read from the routers and the counters, no I/O."""
    sessions: dict[str, int] = {}
    topics = []
    for router in list(routers):
        for session in list(router._session_id_to_session.values()):
            role = getattr(session, "_authrole", None)
            if role in RESTRICTED_ROLES:
                continue  # the router's own service session, which the meta API does not list either
            sessions[str(role)] = sessions.get(str(role), 0) + 1
        for observation in list(router._broker._subscription_map._observation_id_to_observation.values()):
            if observation.uri.startswith("wamp."):
                continue  # the router's own meta topics
            subscribers = relay.subscribers(observation)
            if not subscribers:
                continue  # a cluster node's tap (router/patches/relay.py), or retained events only
            topics.append(
                {
                    "id": observation.id,
                    "uri": observation.uri,
                    "match": observation.match,
                    "subscribers": subscribers,
                    "publications": counting.published(observation),
                }
            )
    topics.sort(key=lambda t: (-t["subscribers"], t["uri"], t["match"]))
    requests, bridge_errors = _bridge_requests()
    received, sent = counters.received, counters.sent
    return {
        "time": now,
        "sessions": {"total": sum(sessions.values()), "by_role": sessions},
        "messages": {"received": sum(received.values()), "sent": sum(sent.values())},
        "publications": received[message.Publish.MESSAGE_TYPE],
        "calls": received[message.Call.MESSAGE_TYPE],
        "deliveries": sent[message.Event.MESSAGE_TYPE],
        "bridge": {"requests": requests, "errors": bridge_errors},
        "errors": sent[message.Error.MESSAGE_TYPE],
        "refused": sum(counters.refused.values()),
        "dropped": sum(counters.dropped.values()),
        "topics": topics[:MAX_TOPICS],
        "topics_total": len(topics),
    }


def _bridge_requests() -> tuple[int, int]:
    """The HTTP bridge's requests so far, and how many of them were answered with 4xx or 5xx (or not
    at all: the client left)."""
    total = errors = 0
    for family in metrics.BRIDGE_REQUESTS.collect():
        for sample in family.samples:
            if not sample.name.endswith("_count"):
                continue
            count = int(sample.value)
            total += count
            if not sample.labels.get("status", "").startswith(("1", "2", "3")):
                errors += count
    return total, errors


def check_ids(ids) -> list[int]:
    """since()'s argument: a list of at most MAX_SINCE session ids, else invalid_argument."""
    if not isinstance(ids, list) or len(ids) > MAX_SINCE:
        raise ApplicationError(uris.INVALID_ARGUMENT, f"give a list of at most {MAX_SINCE} session ids")
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ApplicationError(uris.INVALID_ARGUMENT, "session ids are integers")
    return ids

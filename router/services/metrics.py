"""`GET /metrics`: the router worker's state and counts in Prometheus' text format, built with the
official client library (prometheus_client) in a registry of its own.

What it reads when scraped: the sessions, subscriptions and registrations of the worker's routers
(router/patches/counting.py remembers them), the message, byte, call, refusal and drop counts the
patches keep as plain integers (router/services/counters.py), the history store's writes and size
(router/services/history.py), the HTTP bridge's requests (a histogram, observed by
router/services/bridge_http.py), the restarts `switchboard run` made (from the environment it
starts the node with), and the process' CPU, memory and descriptors.

Access: open to a request from this machine: the hub's web transport listens on loopback only and
the request names no forwarded client. A request that names one (X-Forwarded-For, X-Real-IP or
Forwarded: bridge/forwarded.py, CLIENT_HEADERS) came through a reverse proxy, and behind nginx on the
same machine every request's TCP peer is 127.0.0.1, so it counts as coming from beyond loopback,
whether or not the proxy is trusted. From beyond loopback, and on a hub listening beyond loopback, a
request must carry `Authorization: Bearer <token>` with SWITCHBOARD_METRICS_TOKEN (401 without it,
403 when the hub has no token set). A reverse proxy route to /metrics is safe only with a proxy that
sets one of those headers, as docs/deploy.md's nginx site does.
"""

from __future__ import annotations

import hmac
import ipaddress

from autobahn.wamp import message
from prometheus_client import CollectorRegistry, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from switchboard.bridge import forwarded, uris
from switchboard.router import settings as S
from switchboard.router.patches import calls as calls_patch
from switchboard.router.patches import counting, relay
from switchboard.router.services import counters
from switchboard.router.services.http_answers import body_for, json_answer, refuse_unless_get
from twisted.web.resource import Resource

#: lower-case WAMP message names by type code, as the metrics' `type` label gives them
MESSAGE_NAMES = {
    cls.MESSAGE_TYPE: cls.__name__.lower()
    for cls in vars(message).values()
    if isinstance(cls, type) and issubclass(cls, message.Message) and hasattr(cls, "MESSAGE_TYPE")
}

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

#: the HTTP bridge's requests; `endpoint` is one of the bridge's own names or "other", so a client
#: cannot grow the label set by asking for paths that do not exist
BRIDGE_REQUESTS = Histogram(
    "switchboard_bridge_request_duration_seconds",
    "HTTP bridge requests by endpoint and status, and how long each took to answer",
    ["endpoint", "status"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def _observations(observation_map) -> dict[str, int]:
    """Subscriptions (or registrations) of a Crossbar UriObservationMap, by match."""
    found = {"exact": 0, "prefix": 0, "wildcard": 0}
    for observation in list(observation_map._observation_id_to_observation.values()):
        if relay.subscribers(observation):  # not a cluster node's tap (router/patches/relay.py)
            found[observation.match] = found.get(observation.match, 0) + 1
    return found


class RouterCollector:
    """The routers' sessions, subscriptions and registrations, and the counters, read at scrape time."""

    def collect(self):
        sessions = GaugeMetricFamily(
            "switchboard_sessions", "Sessions joined now, by role and transport", labels=["realm", "role", "transport"]
        )
        subscriptions = GaugeMetricFamily(
            "switchboard_subscriptions",
            "Subscriptions now (each with 1 or more subscribers), by match",
            labels=["realm", "match"],
        )
        registrations = GaugeMetricFamily(
            "switchboard_registrations", "Registrations now, by match", labels=["realm", "match"]
        )
        bytes_sent, bytes_received = dict(counters.bytes_sent), dict(counters.bytes_received)
        for router in list(counting.routers):
            realm = str(router.realm)
            by_kind: dict[tuple[str, str], int] = {}
            for session in list(router._session_id_to_session.values()):
                transport = getattr(session, "_transport", None)
                kind = counting.transport_kind(transport)
                key = (str(getattr(session, "_authrole", None)), kind)
                by_kind[key] = by_kind.get(key, 0) + 1
                counted = counting.serializer_bytes(transport)
                if counted is not None:  # an open connection: its serializer's counts so far
                    bytes_sent[kind] = bytes_sent.get(kind, 0) + counted[0]
                    bytes_received[kind] = bytes_received.get(kind, 0) + counted[1]
            for (role, kind), count in sorted(by_kind.items()):
                sessions.add_metric([realm, role, kind], count)
            for match, count in _observations(router._broker._subscription_map).items():
                subscriptions.add_metric([realm, match], count)
            for match, count in _observations(router._dealer._registration_map).items():
                registrations.add_metric([realm, match], count)
        yield sessions
        yield subscriptions
        yield registrations
        yield _by_type("switchboard_messages_received", "WAMP messages received from sessions", counters.received)
        yield _by_type(
            "switchboard_messages_sent", "WAMP messages sent to sessions (type event: deliveries)", counters.sent
        )
        yield _counted("switchboard_refused", "Requests and connections refused by a limit", "reason", counters.refused)
        yield _counted("switchboard_dropped", "Connections the router aborted", "reason", counters.dropped)
        if counting.counting_messages:
            yield _counted(
                "switchboard_bytes_sent", "Bytes of WAMP messages sent, by transport", "transport", bytes_sent
            )
            yield _counted(
                "switchboard_bytes_received",
                "Bytes of WAMP messages received, by transport",
                "transport",
                bytes_received,
            )
            yield from _calls(counters.calls)
        yield from _history(counters.history)
        yield from _cluster(relay.taps)
        yield _counted(
            "switchboard_restarts",
            "Restarts of the hub by `switchboard run` since it started, by what died",
            "cause",
            S.runtime().restarts,
        )


def _calls(calls):
    counted = CounterMetricFamily(
        "switchboard_calls",
        "Calls answered, by procedure (a registration URI or other) and outcome",
        labels=["procedure", "outcome"],
    )
    for (procedure, outcome), count in sorted(calls.counts.items()):
        counted.add_metric([procedure, outcome], count)
    yield counted
    durations = HistogramMetricFamily(
        "switchboard_call_duration_seconds",
        "Routed calls by procedure, from the CALL's arrival to its answer leaving for the caller",
        labels=["procedure"],
    )
    for procedure in sorted(calls.histograms):
        buckets, total = calls.buckets(procedure)
        durations.add_metric([procedure], buckets, total)
    yield durations


def _history(history):
    if history["events"] is None:  # no history component in this router
        return
    yield CounterMetricFamily("switchboard_history_writes", "Events the history store wrote", value=history["writes"])
    yield GaugeMetricFamily("switchboard_history_events", "Events the history store holds", value=history["events"])
    yield GaugeMetricFamily(
        "switchboard_history_bytes", "Bytes of the history store's SQLite pages in use", value=history["bytes"]
    )


def _cluster(taps):
    """A cluster node's traffic with the other nodes (router/cluster/relay.py): nothing on a node of its own."""
    if not taps:
        return
    events = CounterMetricFamily(
        "switchboard_cluster_events",
        "Events relayed between this node and the others through Redis (dropped: the outbox was full)",
        labels=["realm", "direction"],
    )
    calls = CounterMetricFamily(
        "switchboard_cluster_calls",
        "Calls forwarded to the node that has the procedure (out), and made here for another node (in)",
        labels=["realm", "direction"],
    )
    waiting = GaugeMetricFamily(
        "switchboard_cluster_calls_waiting",
        "Calls this node forwarded that wait for their answer (not yet answered, cancelled or timed out)",
        labels=["realm"],
    )
    for realm, tap in sorted(taps.items()):
        events.add_metric([realm, "out"], tap.relay.sent)
        events.add_metric([realm, "in"], tap.relay.received)
        events.add_metric([realm, "dropped"], tap.relay.dropped)
        calls.add_metric([realm, "out"], tap.calls_out)
        calls.add_metric([realm, "in"], tap.calls_in)
        forwarder = calls_patch.forwarders.get(realm)
        waiting.add_metric([realm], len(forwarder.waiting) if forwarder is not None else 0)
    yield events
    yield calls
    yield waiting


def _by_type(name: str, documentation: str, counts) -> CounterMetricFamily:
    """Counts by WAMP message type code, labelled with the message's name."""
    return _counted(name, documentation, "type", {MESSAGE_NAMES.get(c, str(c)): n for c, n in counts.items()})


def _counted(name: str, documentation: str, label: str, counts) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for key, count in sorted(counts.items()):
        family.add_metric([key], count)
    return family


REGISTRY.register(RouterCollector())


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MetricsResource(Resource):
    isLeaf = True

    def __init__(self, open_access: bool, token: str | None):
        super().__init__()
        self.open_access, self.token = open_access, token

    def render(self, request):
        refused = refuse_unless_get(request)
        if refused:
            return refused
        # a forwarded client may be anywhere: behind a proxy on this machine the TCP peer is loopback
        names = (name.decode("latin-1") for name, _ in request.requestHeaders.getAllRawHeaders())
        proxied = forwarded.names_a_client(names)
        if not self.open_access or proxied:
            if not self.token:
                if self.open_access:
                    where = f"the request came through a proxy ({proxied}), from beyond loopback,"
                else:
                    where = "the hub listens beyond loopback"
                return self._refuse(request, 403, f"{where} and {S.ENV_METRICS_TOKEN} is not set")
            scheme, _, given = (request.getHeader(b"authorization") or b"").partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token.encode()):
                request.setHeader(b"www-authenticate", b'Bearer realm="switchboard metrics"')
                return self._refuse(request, 401, "send Authorization: Bearer <token>")
        request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode())
        request.setHeader(b"cache-control", b"no-store")
        return body_for(request, generate_latest(REGISTRY))

    @staticmethod
    def _refuse(request, status: int, text: str) -> bytes:
        return json_answer(request, status, {"error": uris.WAMP_NOT_AUTHORIZED, "message": text})


def create(extra: dict) -> Resource:
    """Factory Crossbar calls for the `metrics` path; extra "interface" is what its web transport
    listens on (given by render_config; without it, the token is asked for)."""
    interface = str((extra or {}).get("interface", ""))
    return MetricsResource(is_loopback(interface), S.runtime().metrics_token)

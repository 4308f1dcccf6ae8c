"""Crossbar's broker on a cluster node: what it dispatches goes to the other nodes, and theirs comes in.

Out: Crossbar calls its event store's `store_event(session, publication, publish)` once per
publication, after the publish was authorized and checked, whether or not this node has a
subscriber. The relay's `Tap` is that store: it observes every topic (one prefix subscription on
"", made in the subscription map directly, so no meta event announces it) and hands the event to
the relay's outbox. Whether the origin disclosed the publisher is the authorization's `disclose`,
noted on the session by `Router.authorize` just before (same callback chain).

In: `deliver` dispatches another node's event to this node's subscribers as Crossbar would have:
every matching subscription, the receiver filters, the topic on pattern subscriptions, the
publisher when disclosed, retained, and the origin's publication id. Sessions that record at the
origin (the history component, `origin_only`) do not get relayed events: history is written once,
by the node that received the publish.

Not relayed: `wamp.*` and `crossbar.*` (each node's own meta events), events in payload
transparency mode, and the topics in SWITCHBOARD_NODE_LOCAL_TOPICS (published by every node's own
components, such as the demo clock).
"""

from __future__ import annotations

import os
import uuid

from switchboard.bridge import limits
from switchboard.router import settings as S
from switchboard.router.cluster import relay as relay_threads
from switchboard.router.cluster import wire
from switchboard.router.patches.workerproc import in_crossbar_worker
from twisted.logger import Logger

log = Logger()

#: the attribute `Router.authorize` notes a publish's `disclose` under, on the publishing session
DISCLOSE = "_switchboard_disclose"
#: topics never relayed: the router's own meta events
ROUTER_TOPICS = ("wamp.", "crossbar.")
#: the meta events that say a registration came or went (the call forwarder reads them)
REGISTRATION_EVENTS = ("wamp.registration.on_create", "wamp.registration.on_delete")

_installed = False
_message = _RetainedEvent = _SubscriptionExtra = None
#: this process's node id in the cluster (random per start)
NODE = uuid.uuid4().hex[:12]
#: realm name -> its Tap, once its broker exists
taps: dict[str, "Tap"] = {}


class Tap:
    """The event store of one realm's broker: relays this node's publications, delivers the others'."""

    # what Crossbar's receiver filters and meta API read of an observer
    _session_id = 0
    _authid = _authrole = _transport = None

    def __init__(self, broker, realm: str, runtime: S.Runtime, reactor):
        self.broker, self.realm = broker, realm
        self.local_topics = runtime.node_local_topics
        #: sessions that see only events published on this node (they record them for the cluster)
        self.origin_only: set = set()
        #: calls forwarded to other nodes, and made here for them (router/patches/calls.py), for /metrics
        self.calls_out = self.calls_in = 0
        self._reactor = reactor
        self.relay = relay_threads.Relay(
            runtime.redis_url,
            realm,
            NODE,
            self.deliver,
            call_from_thread=reactor.callFromThread,
            max_queued=limits.value("cluster_outbox_events"),
        )
        broker._subscription_map.add_observer(self, "", match="prefix")
        #: called on the reactor when this node's registrations may have changed (set by the call forwarder)
        self.on_registrations = None
        reactor.callLater(0, self._start)  # once the router is whole: the call forwarder adds its channels first

    def _start(self) -> None:
        self.relay.start()
        self._reactor.addSystemEventTrigger("during", "shutdown", self.relay.stop)
        self._reactor.callInThread(self._load_retained)

    # --- Crossbar's event store interface -----------------------------------------------------
    def attach_subscription_map(self, subscription_map) -> None:
        pass

    def store_event(self, session, publication, publish) -> None:
        topic = publish.topic
        if topic.startswith(ROUTER_TOPICS) or publish.payload is not None:
            if topic.startswith(REGISTRATION_EVENTS) and self.on_registrations is not None:
                self.on_registrations()
            return
        if self.local_topics and topic.startswith(self.local_topics):
            return
        item = {"t": topic, "p": publication}
        if publish.args:
            item["a"] = publish.args
        if publish.kwargs:
            item["k"] = publish.kwargs
        if getattr(session, DISCLOSE, False):
            item["s"] = [session._session_id, session._authid, session._authrole]
        filters = {name: value for name in wire.FILTERS if (value := getattr(publish, name))}
        if filters:
            item["f"] = filters
        if publish.retain:
            item["r"] = True
        self.relay.send(item, retained=bool(publish.retain) and not filters)

    def store_event_history(self, publication, subscription_id, receiver) -> None:
        pass

    def get_events(self, subscription_id, limit) -> list:
        return []

    # --- in -----------------------------------------------------------------------------------
    def _load_retained(self) -> None:
        """On a thread at start: the cluster's retained events, retained here too (no one is
        subscribed yet, so nothing is delivered)."""
        if not self.relay.wait_subscribed(30.0):
            return
        try:
            events = relay_threads.load_retained(self.relay.url, self.realm)
        except Exception as e:
            self._reactor.callFromThread(log.warn, "cluster: could not load the retained events: {why}", why=e)
            return
        self._reactor.callFromThread(self.deliver, events)

    def deliver(self, events: list[wire.RelayedEvent]) -> None:
        """On the reactor: dispatch events from another node to this node's subscribers."""
        broker = self.broker
        router = broker._router
        match = broker._subscription_map.match_observations
        skip = self.origin_only
        for event in events:
            publish = None
            if event.filters or event.retain:
                publish = _message.Publish(
                    1, event.topic, args=event.args, kwargs=event.kwargs, retain=event.retain or None, **event.filters
                )
                if event.retain:
                    self._retain(publish, event)
            publisher, authid, authrole = event.publisher or (None, None, None)
            for subscription in match(event.topic):
                receivers = subscription.observers
                if event.filters:
                    receivers = broker._filter_publish_receivers(receivers, publish)
                targets = [r for r in receivers if r is not self and r not in skip and r._session_id and r._transport]
                if not targets:
                    continue
                msg = _message.Event(
                    subscription.id,
                    event.publication,
                    args=event.args,
                    kwargs=event.kwargs,
                    publisher=publisher,
                    publisher_authid=authid,
                    publisher_authrole=authrole,
                    topic=event.topic if subscription.match != "exact" else None,
                )
                for receiver in targets:
                    router.send(receiver, msg)

    def _retain(self, publish, event: wire.RelayedEvent) -> None:
        """Keep `publish` as the topic's retained event, as Crossbar's broker does for its own."""
        publisher, authid, authrole = event.publisher or (None, None, None)
        retained = _RetainedEvent(publish, publisher, authid, authrole)
        observations = self.broker._subscription_map
        observation = observations.get_observation(event.topic) or observations.create_observation(
            event.topic, extra=_SubscriptionExtra()
        )
        if observation.extra is None:
            observation.extra = _SubscriptionExtra()
        if observation.extra.retained_events and (publish.eligible or publish.exclude):
            observation.extra.retained_events.append(retained)
        else:
            observation.extra.retained_events = [retained]


def subscribers(observation) -> int:
    """The subscribers of a Crossbar subscription, the cluster's tap not counted (the prefix
    subscription on "" that only the tap holds has none: /metrics and the dashboard skip it)."""
    return sum(1 for observer in observation.observers if observer.__class__ is not Tap)


def origin_only(session) -> None:
    """`session` (a router component) records what is published on this node for the whole cluster:
    it does not receive events relayed from other nodes."""
    router = getattr(getattr(session, "_transport", None), "_router", None)
    tap = taps.get(router._realm.config["name"]) if router is not None else None
    if tap is not None:
        tap.origin_only.add(session)


def forget(session) -> None:
    for tap in taps.values():
        tap.origin_only.discard(session)


def install(force: bool = False) -> bool:
    """In a router worker of a cluster node (SWITCHBOARD_REDIS_URL set), or with `force`."""
    global _installed, _message, _RetainedEvent, _SubscriptionExtra
    if _installed:
        return True
    runtime = S.runtime()
    if not (force or in_crossbar_worker()) or not runtime.redis_url:
        return False
    from autobahn.wamp import message
    from crossbar.router import broker as crossbar_broker
    from crossbar.router.router import Router
    from twisted.internet import reactor

    _message = message
    _RetainedEvent, _SubscriptionExtra = crossbar_broker.RetainedEvent, crossbar_broker.SubscriptionExtra
    broker_init = crossbar_broker.Broker.__init__

    def relaying_init(self, router, *args, **kwargs):
        broker_init(self, router, *args, **kwargs)
        realm = router._realm.config["name"]
        tap = taps[realm] = Tap(self, realm, runtime, reactor)
        self._event_store = tap

    crossbar_broker.Broker.__init__ = relaying_init
    authorize = Router.authorize

    def noting_authorize(self, session, uri, action, options=None):
        d = authorize(self, session, uri, action, options)
        if action == "publish":
            d.addCallback(_note_disclose, session)
        return d

    Router.authorize = noting_authorize
    _installed = True
    log.debug("cluster: node {node}, pid {pid}", node=NODE, pid=os.getpid())
    return True


def _note_disclose(authorization, session):
    if isinstance(authorization, dict):
        setattr(session, DISCLOSE, bool(authorization.get("disclose")))
    return authorization

"""Calls to a procedure registered on another node of the cluster, with its caller and errors intact.

Every node runs the app's components, so most calls find their callee on their own node and never
leave it. A procedure registered on some nodes only (a standalone component joined to one node, a
browser that registers) is called through Redis:

- Each node writes the procedures registered on it (`wamp.*` aside) to Redis with a time to live
  it renews every REGISTRY_REFRESH seconds, and at once when a registration comes or goes (the
  broker's `wamp.registration.on_create`/`on_delete`); it reads the other nodes' lists on each
  change they announce and every REGISTRY_REFRESH seconds. A node that dies drops out when its
  list expires (REGISTRY_TTL).
- `Dealer.processCall` on a node with no local registration for the procedure, and a node that
  has one: the caller's own node authorizes the call as it would a local one, then forwards it
  (`wire.ForwardedCall`) with the caller's session id, authid and authrole. The callee's node
  makes the call as that caller (a `RemoteCaller` standing in for the session), so its dealer
  authorizes and discloses the caller as its config says, and sends back the result or the error,
  URI and arguments as the callee raised them (`wire.CallAnswer`).
- A call whose node does not answer within its own timeout, or `cluster_call_timeout`
  (bridge/limits.py), fails with switchboard.error.timeout; a caller that left meanwhile gets nothing.

Progressive results and cancelling are not forwarded: the caller gets the final result.
"""

from __future__ import annotations

import itertools
import random

from switchboard.bridge import limits, uris
from switchboard.router import settings as S
from switchboard.router.cluster import relay as relay_threads
from switchboard.router.cluster import wire
from switchboard.router.patches import counting
from switchboard.router.patches import relay as relay_patch
from switchboard.router.patches.workerproc import in_crossbar_worker
from twisted.logger import Logger

log = Logger()

#: seconds between two writes of this node's registrations (and reads of the others')
REGISTRY_REFRESH = 2.0
#: seconds a node's registrations stay in Redis without being renewed
REGISTRY_TTL = 3 * REGISTRY_REFRESH

_installed = False
_message = _UriObservationMap = None
forwarders: dict[str, "Forwarder"] = {}


class Answering:
    """The transport of a `RemoteCaller`: what the dealer sends it is the call's answer."""

    transport_details = None

    def __init__(self, forwarder: "Forwarder", call: wire.ForwardedCall):
        self.forwarder, self.call = forwarder, call

    def send(self, msg) -> None:
        if isinstance(msg, _message.Result):
            if msg.progress:
                return
            answer = wire.CallAnswer(self.call.id, msg.args, msg.kwargs)
        elif isinstance(msg, _message.Error):
            answer = wire.CallAnswer(self.call.id, msg.args, msg.kwargs, msg.error)
        else:
            return
        if counting._installed:  # this send ends the call for /metrics, as a caller's own transport's would
            counting.answered(self.call.caller[0], self.forwarder.dealer._router, msg, msg.MESSAGE_TYPE)
        self.forwarder.answer(self.call.origin, answer)

    def isOpen(self) -> bool:
        return True


class RemoteCaller:
    """The caller of a forwarded call, as the callee's node sees it: its session id and identity."""

    _session_details = None
    _authmethod = _authprovider = _authextra = None

    def __init__(self, realm: str, call: wire.ForwardedCall, transport: Answering):
        self._realm = realm
        self._session_id, self._authid, self._authrole = call.caller
        self._transport = transport
        self._session_roles = {}


class Forwarder:
    """One realm's dealer on a cluster node: what it calls elsewhere and what it is called for."""

    def __init__(self, dealer, tap: relay_patch.Tap, reactor):
        self.dealer, self.tap, self.realm = dealer, tap, tap.realm
        self.node = relay_patch.NODE
        self._reactor = reactor
        self._url = tap.relay.url
        self._timeout = limits.value("cluster_call_timeout")
        self._ids = itertools.count(1)
        #: forwarded call id -> (caller session, request id, timer)
        self._waiting: dict[int, tuple] = {}
        self._remote = _UriObservationMap()
        self._published: list | None = None
        self._writing = self._dirty = False
        relay = tap.relay
        relay.listeners[wire.calls_channel(self.realm, self.node)] = self._take_call
        relay.listeners[wire.replies_channel(self.realm, self.node)] = self._take_answer
        relay.listeners[wire.procedures_channel(self.realm)] = self._changed_elsewhere
        tap.on_registrations = self._changed_here
        from twisted.internet.task import LoopingCall

        self._refresh = LoopingCall(self._tick)
        self._refresh.clock = reactor
        reactor.callLater(0, self._refresh.start, REGISTRY_REFRESH, True)

    # --- the registry ----------------------------------------------------------------------------
    def local_procedures(self) -> list[tuple[str, str]]:
        observations = self.dealer._registration_map._observation_id_to_observation.values()
        return sorted({(o.uri, o.match) for o in observations if o.observers and not o.uri.startswith("wamp.")})

    def _tick(self) -> None:
        self._published = None  # renew the time to live even when nothing changed
        self._changed_here()
        self._changed_elsewhere(b"")

    def _changed_here(self) -> None:
        if self._writing:
            self._dirty = True
            return
        procedures = self.local_procedures()
        if procedures == self._published:
            return
        self._writing, self._dirty = True, False
        d = self._in_thread(relay_threads.write_procedures, self._url, self.realm, self.node, procedures, REGISTRY_TTL)
        d.addCallbacks(lambda _: self._written(procedures), self._write_failed)

    def _written(self, procedures) -> None:
        self._writing, self._published = False, procedures
        if self._dirty:
            self._reactor.callLater(0, self._changed_here)

    def _write_failed(self, failure) -> None:
        self._writing = False
        log.debug("cluster: could not write the registrations: {why}", why=failure.value)

    def _changed_elsewhere(self, node: bytes) -> None:
        if node == self.node.encode():
            return
        d = self._in_thread(relay_threads.read_procedures, self._url, self.realm)
        d.addCallbacks(self._read, lambda f: log.debug("cluster: could not read registrations: {why}", why=f.value))

    def _read(self, found: dict[str, list[tuple[str, str]]]) -> None:
        remote = _UriObservationMap()
        for node, procedures in found.items():
            if node == self.node:
                continue
            for uri, match in procedures:
                remote.add_observer(node, uri, match=match)
        self._remote = remote

    def node_for(self, procedure: str) -> str | None:
        observation = self._remote.best_matching_observation(procedure)
        if observation is None or not observation.observers:
            return None
        return random.choice(list(observation.observers))

    def _in_thread(self, fn, *args):
        from twisted.internet.threads import deferToThread

        return deferToThread(fn, *args)

    # --- calls out -----------------------------------------------------------------------------
    def forward(self, session, call, node: str) -> None:
        """Authorize `call` here, as Crossbar would, then send it to `node`."""
        d = self.dealer._router.authorize(session, call.procedure, "call", options=call.marshal_options())
        d.addCallbacks(
            lambda authorization: self._authorized(session, call, node, authorization), self._failed_auth(session, call)
        )

    def _failed_auth(self, session, call):
        def failed(failure):
            self._reply_error(
                session,
                call.request,
                uris.WAMP_AUTHORIZATION_FAILED,
                f"failed to authorize session for calling procedure '{call.procedure}': {failure.value}",
            )

        return failed

    def _authorized(self, session, call, node: str, authorization) -> None:
        if not authorization.get("allow"):
            self._reply_error(
                session, call.request, uris.WAMP_NOT_AUTHORIZED,
                f"session is not authorized to call procedure '{call.procedure}'",
            )  # fmt: skip
            return
        forwarded_id = next(self._ids)
        timeout = self._timeout
        if call.timeout:
            timeout = min(timeout, call.timeout / 1000)
        forwarded = wire.ForwardedCall(
            forwarded_id,
            self.node,
            call.procedure,
            (session._session_id, session._authid, session._authrole),
            call.args,
            call.kwargs,
            int(call.timeout or 0),
        )
        timer = self._reactor.callLater(timeout, self._timed_out, forwarded_id, node, timeout)
        self._waiting[forwarded_id] = (session, call.request, timer)
        self.tap.calls_out += 1
        self.tap.relay.send_message(wire.calls_channel(self.realm, node), forwarded.encode())

    def _timed_out(self, forwarded_id: int, node: str, timeout: float) -> None:
        waiting = self._waiting.pop(forwarded_id, None)
        if waiting is None:
            return
        session, request, _ = waiting
        self._reply_error(session, request, uris.TIMEOUT, f"no answer from cluster node {node} within {timeout:g} s")

    def _take_answer(self, data: bytes) -> None:
        try:
            answer = wire.CallAnswer.decode(data)
        except wire.WireError as e:
            log.warn("cluster: an answer on {realm} is not one: {why}", realm=self.realm, why=e)
            return
        waiting = self._waiting.pop(answer.id, None)
        if waiting is None:  # timed out already
            return
        session, request, timer = waiting
        if timer.active():
            timer.cancel()
        if answer.error is not None:
            msg = _message.Error(
                _message.Call.MESSAGE_TYPE, request, answer.error, args=answer.args, kwargs=answer.kwargs
            )
        else:
            msg = _message.Result(request, args=answer.args, kwargs=answer.kwargs)
        self.dealer._router.send(session, msg)

    def _reply_error(self, session, request: int, error: str, text: str) -> None:
        self.dealer._router.send(session, _message.Error(_message.Call.MESSAGE_TYPE, request, error, [text]))

    # --- calls in ------------------------------------------------------------------------------
    def _take_call(self, data: bytes) -> None:
        try:
            forwarded = wire.ForwardedCall.decode(data)
        except wire.WireError as e:
            log.warn("cluster: a call on {realm} is not one: {why}", realm=self.realm, why=e)
            return
        caller = RemoteCaller(self.realm, forwarded, Answering(self, forwarded))
        call = _message.Call(
            forwarded.id,
            forwarded.procedure,
            args=forwarded.args,
            kwargs=forwarded.kwargs,
            timeout=forwarded.timeout or None,
        )
        if self.dealer._registration_map.best_matching_observation(forwarded.procedure) is None:
            self.answer(
                forwarded.origin,
                wire.CallAnswer(
                    forwarded.id, [f"no callee registered for procedure <{forwarded.procedure}>"], None,
                    uris.NO_SUCH_PROCEDURE,
                ),
            )  # fmt: skip
            return
        self.tap.calls_in += 1
        self.dealer.processCall(caller, call)

    def answer(self, origin: str, answer: wire.CallAnswer) -> None:
        self.tap.relay.send_message(wire.replies_channel(self.realm, origin), answer.encode())


def install(force: bool = False) -> bool:
    """In a router worker of a cluster node (after router/patches/relay.py), or with `force`."""
    global _installed, _message, _UriObservationMap
    if _installed:
        return True
    if not (force or in_crossbar_worker()) or not S.runtime().redis_url:
        return False
    from autobahn.wamp import message
    from crossbar.router import dealer as crossbar_dealer
    from crossbar.router.observation import UriObservationMap
    from twisted.internet import reactor

    _message, _UriObservationMap = message, UriObservationMap
    Dealer = crossbar_dealer.Dealer
    dealer_init, process_call = Dealer.__init__, Dealer.processCall

    def forwarding_init(self, router, *args, **kwargs):
        dealer_init(self, router, *args, **kwargs)
        tap = relay_patch.taps.get(router._realm.config["name"]) if router._realm is not None else None
        self._switchboard_forwarder = forwarders[tap.realm] = Forwarder(self, tap, reactor) if tap else None

    def forwarding_process_call(self, session, call):
        forwarder = self._switchboard_forwarder
        if forwarder is not None and self._registration_map.best_matching_observation(call.procedure) is None:
            node = forwarder.node_for(call.procedure)
            if node is not None and not isinstance(session, RemoteCaller):
                forwarder.forward(session, call, node)
                return None
        return process_call(self, session, call)

    Dealer.__init__ = forwarding_init
    Dealer.processCall = forwarding_process_call
    _installed = True
    return True

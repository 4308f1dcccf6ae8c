"""Calls to a procedure registered on another node of the cluster, with its caller and errors intact.

Every node runs the app's components, so most calls find their callee on their own node and never
leave it. A procedure registered on some nodes only (a standalone component joined to one node, a
browser that registers) is called through Redis:

- Each node writes the procedures registered on it (`wamp.*` aside) to Redis with a time to live
  it renews every REGISTRY_REFRESH seconds, and at once when a registration comes or goes (the
  broker's `wamp.registration.on_create`/`on_delete`); it reads the other nodes' lists on each
  change they announce and every REGISTRY_REFRESH seconds. A node that dies drops out when its
  list expires (REGISTRY_TTL).
- After Redis was away (this node's listener lost it, or a write or read failed) a node writes its
  list again as soon as its listener is back, and reads the others'; and for REGISTRY_TTL after its
  first read it keeps the procedures of a node whose list is missing (it expired while no node
  could renew it): that node writes its own again within that time if it is alive, and drops out
  then if it is not, as a node that dies with Redis up. So a call made just after an outage longer
  than REGISTRY_TTL is forwarded (held until the callee's node listens again), not answered
  wamp.error.no_such_procedure.
- `Dealer.processCall` on a node with no local registration for the procedure, and a node that
  has one: the caller's own node authorizes the call as it would a local one, then forwards it
  (`wire.ForwardedCall`) with the caller's session id, authid and authrole. The callee's node
  makes the call as that caller (a `RemoteCaller` standing in for the session), so its dealer
  authorizes and discloses the caller as its config says, and sends back the result or the error,
  URI and arguments as the callee raised them (`wire.CallAnswer`).
- A caller that asked for progressive results (receive_progress) gets each one the callee sent, as
  a `CallAnswer` marked `progress`, in order before the last (one Redis channel per node, one
  outbox: the order the callee's node sent them in); a caller that did not gets the final result.
- A CANCEL of a forwarded call goes to the callee's node (`wire.CancelCall`), whose dealer cancels
  the call as it would a local one: INTERRUPT to the callee for kill and killnowait, its answer
  dropped. The caller gets wamp.error.canceled: with kill once the callee's node says the callee
  stopped, with skip and killnowait at once from its own node (Crossbar sends nothing to the
  caller of a local call cancelled with skip; WAMP says it should get the error at once).
- A call whose node does not answer within its own timeout, or `cluster_call_timeout`
  (bridge/limits.py; each progressive result starts that wait again), fails with
  switchboard.error.timeout and is cancelled on the callee's node (killnowait, as Crossbar's own
  call timeout interrupts the callee).
- A caller that leaves (GOODBYE or a lost connection: its dealer's `detach`) ends its forwarded
  calls on its node at once, and each is cancelled on the callee's node as killnowait, as Crossbar's
  dealer does for a local caller that went away: INTERRUPT where the callee allows call canceling.
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
            if msg.progress and not self.call.progress:
                return
            answer = wire.CallAnswer(self.call.id, msg.args, msg.kwargs, progress=bool(msg.progress))
        elif isinstance(msg, _message.Error):
            answer = wire.CallAnswer(self.call.id, msg.args, msg.kwargs, msg.error)
        else:
            return
        if counting._installed and not answer.progress:  # this ends the call for /metrics, as a caller's own
            counting.answered(self.call.caller[0], self.forwarder.dealer._router, msg, msg.MESSAGE_TYPE)
        self.forwarder.answer(self.call.origin, answer)


class RemoteCaller:
    """The caller of a forwarded call, as the callee's node sees it: its session id and identity."""

    _session_details = None
    _authmethod = _authprovider = _authextra = None

    def __init__(self, realm: str, call: wire.ForwardedCall, transport: Answering):
        self._realm = realm
        self._session_id, self._authid, self._authrole = call.caller
        self._transport = transport
        self._session_roles = {}


class Waiting:
    """A call this node forwarded, until its answer, its cancel (but kill's) or its timeout."""

    __slots__ = ("session", "request", "node", "deadline", "progress", "canceled", "timer", "wait")

    def __init__(self, session, call, node: str, deadline: float | None):
        self.session, self.request, self.node, self.deadline = session, call.request, node, deadline
        self.progress, self.canceled = bool(call.receive_progress), False
        self.timer = self.wait = None  # the wait for its next answer: seconds and its timer


def answers_cancel_at_once(mode: str | None) -> bool:
    """Whether the caller's node answers a CANCEL itself (wamp.error.canceled) rather than wait for
    the callee's node: all but kill, which waits for the callee to stop (Crossbar takes no mode as
    killnowait)."""
    return mode != "kill"


def known_procedures(
    before: dict[str, list[tuple[str, str]]], found: dict[str, list[tuple[str, str]]], node: str, keep_missing: bool
) -> dict[str, list[tuple[str, str]]]:
    """The other nodes' procedures after a read of the registry (`found`, every node's list in Redis):
    this node's own left out; with `keep_missing` (just after Redis was away) the nodes known `before`
    whose list is missing are kept with what they had."""
    known = {n: p for n, p in found.items() if n != node}
    if keep_missing:
        for n, procedures in before.items():
            known.setdefault(n, procedures)
    return known


class Forwarder:
    """One realm's dealer on a cluster node: what it calls elsewhere and what it is called for."""

    def __init__(self, dealer, tap: relay_patch.Tap, reactor):
        self.dealer, self.tap, self.realm = dealer, tap, tap.realm
        self.node = relay_patch.NODE
        self._reactor = reactor
        self._url = tap.relay.url
        self._timeout = limits.value("cluster_call_timeout")
        self._ids = itertools.count(1)
        #: forwarded call id -> the call, until its end; caller session id -> its request ids -> forwarded ids
        self.waiting: dict[int, Waiting] = {}
        self._by_caller: dict[int, dict[int, int]] = {}
        self._remote = _UriObservationMap()
        #: node -> its procedures, as last read; until when a node missing from a read is kept
        #: (after Redis was away), and whether Redis was away since the last read
        self._known: dict[str, list[tuple[str, str]]] = {}
        self._keep_missing_until = 0.0
        self._redis_lost = False
        self._published: list | None = None
        self._writing = self._dirty = False
        relay = tap.relay
        relay.listeners[wire.calls_channel(self.realm, self.node)] = self._take_call
        relay.listeners[wire.replies_channel(self.realm, self.node)] = self._take_answer
        relay.listeners[wire.procedures_channel(self.realm)] = self._changed_elsewhere
        tap.on_registrations = self._changed_here
        relay.on_back = self._redis_back
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

    def _redis_back(self) -> None:
        """This node listens to Redis again: write its registrations and read the others' at once."""
        self._redis_lost = True
        self._tick()

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
        self._writing, self._redis_lost = False, True
        log.debug("cluster: could not write the registrations: {why}", why=failure.value)

    def _changed_elsewhere(self, node: bytes) -> None:
        if node == self.node.encode():
            return
        d = self._in_thread(relay_threads.read_procedures, self._url, self.realm)
        d.addCallbacks(self._read, self._read_failed)

    def _read_failed(self, failure) -> None:
        self._redis_lost = True
        log.debug("cluster: could not read registrations: {why}", why=failure.value)

    def _read(self, found: dict[str, list[tuple[str, str]]]) -> None:
        now = self._reactor.seconds()
        if self._redis_lost:  # the first read since Redis was away: lists may have expired meanwhile
            self._redis_lost, self._keep_missing_until = False, now + REGISTRY_TTL
        self._known = known_procedures(self._known, found, self.node, keep_missing=now < self._keep_missing_until)
        remote = _UriObservationMap()
        for node, procedures in self._known.items():
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
        forwarded = wire.ForwardedCall(
            forwarded_id,
            self.node,
            call.procedure,
            (session._session_id, session._authid, session._authrole),
            call.args,
            call.kwargs,
            int(call.timeout or 0),
            bool(call.receive_progress),
        )
        deadline = self._reactor.seconds() + call.timeout / 1000 if call.timeout else None
        waiting = Waiting(session, call, node, deadline)
        waiting.wait = self._wait_for(waiting)
        waiting.timer = self._reactor.callLater(waiting.wait, self._timed_out, forwarded_id)
        self.waiting[forwarded_id] = waiting
        self._by_caller.setdefault(session._session_id, {})[call.request] = forwarded_id
        self.tap.calls_out += 1
        self.tap.relay.send_message(wire.calls_channel(self.realm, node), forwarded.encode())

    def _wait_for(self, waiting: Waiting) -> float:
        """Seconds until the next answer is late: cluster_call_timeout, or what is left of the caller's."""
        if waiting.deadline is None:
            return self._timeout
        return max(0.0, min(self._timeout, waiting.deadline - self._reactor.seconds()))

    def _done(self, forwarded_id: int) -> Waiting | None:
        """The call's end, however it came: out of both maps, its timer stopped."""
        waiting = self.waiting.pop(forwarded_id, None)
        if waiting is not None:
            requests = self._by_caller.get(waiting.session._session_id)
            if requests is not None and requests.get(waiting.request) == forwarded_id:  # else a reused request id
                del requests[waiting.request]
                if not requests:
                    del self._by_caller[waiting.session._session_id]
            if waiting.timer.active():
                waiting.timer.cancel()
        return waiting

    def _timed_out(self, forwarded_id: int) -> None:
        waiting = self._done(forwarded_id)
        if waiting is None:
            return
        self._send_cancel(forwarded_id, waiting, "killnowait")
        text = f"no answer from cluster node {waiting.node} within {waiting.wait:g} s"
        self._reply_error(waiting.session, waiting.request, uris.TIMEOUT, text)

    def cancel(self, session, cancel) -> bool:
        """A CANCEL from `session`: False when it is not for a call this node forwarded."""
        forwarded_id = self._by_caller.get(session._session_id, {}).get(cancel.request)
        if forwarded_id is None:
            return False
        waiting = self.waiting[forwarded_id]
        if waiting.canceled:  # a second CANCEL, as Crossbar's dealer: nothing more
            return True
        waiting.canceled = True
        self._send_cancel(forwarded_id, waiting, cancel.mode)
        if answers_cancel_at_once(cancel.mode):
            self._done(forwarded_id)
            self._reply_error(session, cancel.request, uris.CANCELED, None)
        return True

    def caller_left(self, session) -> None:
        """`session` left (its dealer's detach): its forwarded calls end here, and each one not cancelled
        yet is cancelled on its callee's node as killnowait, as Crossbar's dealer interrupts the callee
        of a local caller that went away (where the callee's registration allows call canceling)."""
        for forwarded_id in list(self._by_caller.get(session._session_id, {}).values()):
            waiting = self._done(forwarded_id)
            if waiting is not None and not waiting.canceled:
                self._send_cancel(forwarded_id, waiting, "killnowait")

    def _send_cancel(self, forwarded_id: int, waiting: Waiting, mode: str | None) -> None:
        cancel = wire.CancelCall(forwarded_id, self.node, waiting.session._session_id, mode)
        self.tap.relay.send_message(wire.calls_channel(self.realm, waiting.node), cancel.encode())

    def _take_answer(self, data: bytes) -> None:
        try:
            answer = wire.CallAnswer.decode(data)
        except wire.WireError as e:
            log.warn("cluster: an answer on {realm} is not one: {why}", realm=self.realm, why=e)
            return
        if answer.progress:
            waiting = self.waiting.get(answer.id)
            if waiting is None or not waiting.progress or waiting.canceled:  # over, or not asked for
                return
            if waiting.session._transport is None:  # the caller left: stop the callee, as Crossbar would
                self._done(answer.id)
                self._send_cancel(answer.id, waiting, "killnowait")
                return
            waiting.wait = self._wait_for(waiting)
            waiting.timer.reset(waiting.wait)
            msg = _message.Result(waiting.request, args=answer.args, kwargs=answer.kwargs, progress=True)
            self.dealer._router.send(waiting.session, msg)
            return
        waiting = self._done(answer.id)
        if waiting is None:  # timed out or cancelled already
            return
        if answer.error is not None:
            msg = _message.Error(
                _message.Call.MESSAGE_TYPE, waiting.request, answer.error, args=answer.args, kwargs=answer.kwargs
            )
        else:
            msg = _message.Result(waiting.request, args=answer.args, kwargs=answer.kwargs)
        self.dealer._router.send(waiting.session, msg)

    def _reply_error(self, session, request: int, error: str, text: str | None) -> None:
        args = [text] if text is not None else None
        self.dealer._router.send(session, _message.Error(_message.Call.MESSAGE_TYPE, request, error, args))

    # --- calls in ------------------------------------------------------------------------------
    def _take_call(self, data: bytes) -> None:
        try:
            forwarded = wire.decode_on_calls(data)
        except wire.WireError as e:
            log.warn("cluster: a call on {realm} is not one: {why}", realm=self.realm, why=e)
            return
        if isinstance(forwarded, wire.CancelCall):
            self._take_cancel(forwarded)
            return
        caller = RemoteCaller(self.realm, forwarded, Answering(self, forwarded))
        call = _message.Call(
            forwarded.id,
            forwarded.procedure,
            args=forwarded.args,
            kwargs=forwarded.kwargs,
            timeout=forwarded.timeout or None,
            receive_progress=forwarded.progress or None,
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

    def _take_cancel(self, cancel: wire.CancelCall) -> None:
        """Cancel the call made here for `cancel`'s caller, through the dealer as its own CANCEL would."""
        invocation = self.dealer._invocations_by_call.get((cancel.session, cancel.id))
        if invocation is None:  # answered already (or timed out here)
            return
        caller = invocation.caller
        if not isinstance(caller, RemoteCaller) or caller._transport.call.origin != cancel.origin:
            return
        self.dealer.processCancel(caller, _message.Cancel(cancel.id, mode=cancel.mode))

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
    dealer_init, process_call, process_cancel = Dealer.__init__, Dealer.processCall, Dealer.processCancel
    dealer_detach = Dealer.detach

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

    def forwarding_process_cancel(self, session, cancel):
        forwarder = self._switchboard_forwarder
        if forwarder is not None and forwarder.cancel(session, cancel):
            return None
        return process_cancel(self, session, cancel)

    def forwarding_detach(self, session):
        forwarder = self._switchboard_forwarder
        if forwarder is not None:
            forwarder.caller_left(session)
        return dealer_detach(self, session)

    Dealer.__init__ = forwarding_init
    Dealer.detach = forwarding_detach
    Dealer.processCall = forwarding_process_call
    Dealer.processCancel = forwarding_process_cancel
    _installed = True
    return True

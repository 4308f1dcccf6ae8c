"""Calls across the nodes of a cluster: to the components every node runs, and to a procedure
registered on one node only (forwarded through Redis), with the caller and errors intact, its
progressive results, and its cancel."""

import asyncio
import threading
from types import SimpleNamespace

import pytest
from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import uris
from switchboard.router.testing.hub import wait_until

from tests.cluster.scrape import metrics, sample


def test_every_node_answers_the_components_procedures_as_its_own(cluster):
    for hub in cluster.hubs:
        with hub.client() as c:
            assert c.call("demo.add2", 2, 3) == 5
            stored = c.call("chat.post", "rpc-room", "hi", "ann")
            assert stored["author"]["session"] == c.session_id


@pytest.fixture
def callee_on_a(cluster):
    """A backend session on node A only, registering cluster.echo (sees its caller) and cluster.fail."""
    a = cluster.hubs[0]
    with a.backend_client() as callee:

        def echo(*args, details=None, **kwargs):
            caller = [details.caller, details.caller_authid, details.caller_authrole]
            return {"args": list(args), "kwargs": kwargs, "caller": caller}

        callee.register("cluster.echo", echo, details=True)

        def fail(*args, **kwargs):
            raise ApplicationError("app.error.nope", "not today", code=7)

        callee.register("cluster.fail", fail)
        for hub in cluster.hubs[1:]:  # the other nodes learn of it within a registry refresh
            with hub.backend_client() as probe:
                wait_until(lambda: _answers(probe), timeout=15, what=f"cluster.echo callable on {hub.url}")
        yield callee


def _answers(client) -> bool:
    try:
        client.call("cluster.echo", timeout=2)
        return True
    except ApplicationError as e:
        if e.error == uris.NO_SUCH_PROCEDURE:
            return False
        raise


def test_a_procedure_on_one_node_is_called_from_another_with_its_arguments(cluster, callee_on_a):
    b, c = cluster.hubs[1], cluster.hubs[2]
    for hub in (b, c):
        with hub.backend_client() as caller:
            result = caller.call("cluster.echo", 1, [2], k={"v": 3})
        assert result == {
            "args": [1, [2]],
            "kwargs": {"k": {"v": 3}},
            "caller": [caller.session_id, "backend", "backend"],
        }


def test_an_application_error_crosses_nodes_with_its_uri_and_arguments(cluster, callee_on_a):
    with cluster.hubs[2].backend_client() as caller:
        with pytest.raises(ApplicationError) as info:
            caller.call("cluster.fail")
    assert info.value.error == "app.error.nope"
    assert info.value.args == ("not today",) and info.value.kwargs == {"code": 7}


def test_an_anonymous_caller_is_refused_on_its_own_node_as_locally(cluster, callee_on_a):
    """anonymous may not call cluster.*: its own node says so, exactly as for a local procedure."""
    with cluster.hubs[1].client() as anonymous:
        with pytest.raises(ApplicationError) as info:
            anonymous.call("cluster.echo")
    assert info.value.error == uris.WAMP_NOT_AUTHORIZED


def test_a_missing_procedure_is_still_no_such_procedure(cluster):
    with cluster.hubs[1].backend_client() as caller:
        with pytest.raises(ApplicationError) as info:
            caller.call("cluster.nowhere")
    assert info.value.error == uris.NO_SUCH_PROCEDURE


def test_a_call_unanswered_times_out_is_cancelled_on_its_callee_and_a_dead_nodes_procedures_go(tmp_path):
    from switchboard.router.testing.cluster import Cluster

    with Cluster.started(tmp_path, nodes=2, env={"SWITCHBOARD_CLUSTER_CALL_TIMEOUT": "1.5"}) as small:
        a, b = small.hubs
        interrupted = threading.Event()

        async def slow():
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                interrupted.set()
                raise

        with a.backend_client() as callee, b.backend_client() as caller:
            callee.register("cluster.slow", slow)
            wait_until(lambda: _registered_elsewhere(caller, "cluster.slow"), timeout=15, what="cluster.slow on b")
            assert interrupted.wait(10)  # the probe's call timed out too
            interrupted.clear()
            with pytest.raises(ApplicationError) as info:
                caller.call("cluster.slow", timeout=10)
            assert info.value.error == uris.TIMEOUT
            assert interrupted.wait(10), "the call that timed out is cancelled on the callee's node"
            wait_until(lambda: _waiting(b) == 0, timeout=10, what="B's forwarded calls gone")
            a.kill()
            wait_until(
                lambda: not _registered_elsewhere(caller, "cluster.slow"), timeout=20, what="a's procedures gone"
            )


def _registered_elsewhere(client, procedure: str) -> bool:
    try:
        client.call(procedure, timeout=5)
    except ApplicationError as e:
        return e.error != uris.NO_SUCH_PROCEDURE
    return True


@pytest.fixture
def long_calls_on_a(cluster):
    """A backend session on node A only: cluster.stream(n) sends 0..n-1 as progressive results when
    its caller asked for them; cluster.hang waits until it is interrupted; cluster.held until released."""
    a = cluster.hubs[0]
    seen = SimpleNamespace(started=threading.Event(), interrupted=threading.Event(), finished=threading.Event())
    with a.backend_client() as callee:
        release = asyncio.Event()
        seen.release = lambda: callee._loop.call_soon_threadsafe(release.set)

        async def hang():
            seen.started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:  # what an INTERRUPT does to an autobahn endpoint
                seen.interrupted.set()
                raise

        async def held():
            seen.started.set()
            try:
                await release.wait()
            except asyncio.CancelledError:
                seen.interrupted.set()
                raise
            seen.finished.set()
            return "late"

        def stream(n, details=None):
            if details.progress:
                for i in range(n):
                    details.progress(i)
            return {"final": n, "progressive": details.progress is not None}

        callee.register("cluster.hang", hang)
        callee.register("cluster.held", held)
        callee.register("cluster.stream", stream, details=True)  # last: once B has it, it has the others
        with cluster.hubs[1].backend_client() as probe:
            wait_until(lambda: _registered_elsewhere(probe, "cluster.stream"), timeout=15, what="cluster.stream on B")
        yield seen


def test_progressive_results_cross_nodes_in_order_before_the_final_one(cluster, long_calls_on_a):
    got = []
    with cluster.hubs[1].backend_client() as caller:
        result = caller.call("cluster.stream", 50, on_progress=lambda i: got.append(i))
    assert got == list(range(50))
    assert result == {"final": 50, "progressive": True}


def test_a_caller_that_asks_for_no_progress_gets_the_final_result_only(cluster, long_calls_on_a):
    with cluster.hubs[1].backend_client() as caller:
        assert caller.call("cluster.stream", 5) == {"final": 5, "progressive": False}


@pytest.mark.parametrize("mode", ["kill", "killnowait"])
def test_a_forwarded_call_cancelled_interrupts_its_callee_and_answers_canceled(cluster, long_calls_on_a, mode):
    b = cluster.hubs[1]
    with b.backend_client() as caller:
        request, outcome = _start_call(caller, "cluster.hang")
        assert long_calls_on_a.started.wait(10)
        _cancel(caller, request, mode)
        with pytest.raises(ApplicationError) as info:
            outcome.result(20)
        assert info.value.error == uris.CANCELED
        if mode == "kill":  # the caller's answer waited for the callee to stop
            assert long_calls_on_a.interrupted.is_set()
        else:
            assert long_calls_on_a.interrupted.wait(10)
        wait_until(lambda: _waiting(b) == 0, timeout=10, what="B's forwarded call gone")


def test_a_forwarded_call_cancelled_with_skip_answers_canceled_and_drops_the_late_result(cluster, long_calls_on_a):
    b = cluster.hubs[1]
    with b.backend_client() as caller:
        request, outcome = _start_call(caller, "cluster.held")
        assert long_calls_on_a.started.wait(10)
        _cancel(caller, request, "skip")
        with pytest.raises(ApplicationError) as info:
            outcome.result(20)
        assert info.value.error == uris.CANCELED
        assert _waiting(b) == 0
        long_calls_on_a.release()
        assert long_calls_on_a.finished.wait(10)
        # a RESULT for a call it no longer has would end the caller's session (autobahn's ProtocolError),
        # and it would come before the answer of this later call made through the same nodes and callee
        assert caller.call("cluster.stream", 0) == {"final": 0, "progressive": False}
        assert caller.is_connected
    assert not long_calls_on_a.interrupted.is_set(), "skip sends no INTERRUPT"


@pytest.mark.parametrize("leaves", ["goodbye", "connection lost"])
def test_a_caller_that_leaves_mid_call_interrupts_its_callee_on_the_other_node(cluster, long_calls_on_a, leaves):
    """As Crossbar's dealer does for a local caller that goes away: the forwarded call ends on the
    caller's node at once, and the callee gets INTERRUPT (killnowait) rather than run until the
    cluster call timeout (30 s)."""
    b = cluster.hubs[1]
    caller = b.backend_client()
    try:
        _start_call(caller, "cluster.hang")
        assert long_calls_on_a.started.wait(10)
        assert _waiting(b) == 1
        if leaves == "goodbye":
            caller.close()
        else:
            caller._loop.call_soon_threadsafe(caller.session._transport.transport.abort)
            caller.wait_closed(10)
        assert long_calls_on_a.interrupted.wait(10), "the callee is interrupted once its caller left"
        wait_until(lambda: _waiting(b) == 0, timeout=10, what="B's forwarded call gone")
    finally:
        caller.close()


def _start_call(client, procedure: str, *args):
    """A CALL sent on `client`'s loop: its request id, and a future of its outcome."""

    async def start():
        reply = client.session.call(procedure, *args)
        request = next(r for r, pending in client.session._call_reqs.items() if pending.on_reply is reply)
        return request, reply

    request, reply = client._run(start())

    async def outcome():
        return await asyncio.wait_for(reply, 20)

    return request, asyncio.run_coroutine_threadsafe(outcome(), client._loop)


def _cancel(client, request: int, mode: str) -> None:
    """A CANCEL in `mode` (autobahn's own cancel names none)."""
    client._loop.call_soon_threadsafe(client.session._transport.send, message.Cancel(request, mode=mode))


def _waiting(hub) -> float:
    return sample(metrics(hub), "switchboard_cluster_calls_waiting", realm=hub.realm)

"""Calls across the nodes of a cluster: to the components every node runs, and to a procedure
registered on one node only (forwarded through Redis), with the caller and errors intact."""

import pytest
from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import uris
from switchboard.router.testing.hub import wait_until


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


def test_a_call_unanswered_times_out_and_a_dead_nodes_procedures_go(tmp_path):
    import threading

    from switchboard.router.testing.cluster import Cluster

    with Cluster.started(tmp_path, nodes=2, env={"SWITCHBOARD_CLUSTER_CALL_TIMEOUT": "1.5"}) as small:
        a, b = small.hubs
        release = threading.Event()
        with a.backend_client() as callee, b.backend_client() as caller:
            callee.register("cluster.slow", lambda: release.wait(30))
            wait_until(lambda: _registered_elsewhere(caller, "cluster.slow"), timeout=15, what="cluster.slow on b")
            with pytest.raises(ApplicationError) as info:
                caller.call("cluster.slow", timeout=10)
            release.set()
            assert info.value.error == uris.TIMEOUT
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

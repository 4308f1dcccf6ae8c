"""The pure part of `switchboard cluster up` (router/node/cluster.py): ports, directories, each node's
environment, the URL table; and SWITCHBOARD_WS_URLS, which the page fails over between."""

import itertools
from pathlib import Path

import pytest
from switchboard.router import settings as S
from switchboard.router.node import cluster
from switchboard.router.node.process import render_config


def test_consecutive_ports_from_the_first_one():
    plan = cluster.plan(Path("/c"), 3, 9000)
    assert [(n.name, n.port, n.backend_port, n.router_web_port) for n in plan.nodes] == [
        ("node1", 9000, 9003, None),
        ("node2", 9001, 9004, None),
        ("node3", 9002, 9005, None),
    ]
    assert plan.redis_port == 9006 and plan.consecutive
    assert [n.home for n in plan.nodes] == [Path("/c/node1"), Path("/c/node2"), Path("/c/node3")]
    assert plan.secrets_file == Path("/c/secrets.env")


def test_proxy_workers_get_the_routers_web_ports_too():
    plan = cluster.plan(Path("/c"), 2, 9000, proxies=1)
    assert [n.router_web_port for n in plan.nodes] == [9004, 9005] and plan.redis_port == 9006
    assert (9004, "node1's router web port") in plan.ports()


def test_free_ports_are_all_different():
    ports = itertools.chain([5000, 5000, 5001], itertools.count(6000))
    plan = cluster.plan(Path("/c"), 2, free=lambda: next(ports))
    used = [p for p, _ in plan.ports()]
    assert len(set(used)) == len(used) == 5 and not plan.consecutive


@pytest.mark.parametrize("nodes,port", [(0, None), (cluster.MAX_NODES + 1, None), (3, 80), (3, 65530)])
def test_impossible_plans_are_refused(nodes, port):
    with pytest.raises(cluster.ClusterError):
        cluster.plan(Path("/c"), nodes, port)


def test_a_nodes_environment():
    plan = cluster.plan(Path("/c"), 2, 9000)
    env = cluster.node_env(
        {"PATH": "/bin", S.ENV_PORT: "1"}, plan.nodes[1], plan, "redis://h:1/0", ["ws://a", "ws://b"]
    )
    assert env["PATH"] == "/bin"
    assert env[S.ENV_PORT] == "9001" and env[S.ENV_BACKEND_PORT] == "9003" and env[S.ENV_HOST] == "127.0.0.1"
    assert env[S.ENV_DIR] == "/c/node2" and env[S.ENV_SECRETS_FILE] == "/c/secrets.env"
    assert env[S.ENV_REDIS_URL] == "redis://h:1/0" and env[S.ENV_WS_URLS] == "ws://a,ws://b"
    assert S.ENV_ROUTER_WEB_PORT not in env


def test_the_url_table_lines_up():
    rows = [
        (f"node{i}", S.Settings(host="127.0.0.1", port=p, backend_port=1, realm="r")) for i, p in ((1, 80), (2, 8081))
    ]
    assert cluster.url_table(rows) == [
        "node   page                    WebSocket               bridge",
        "node1  http://127.0.0.1:80/    ws://127.0.0.1:80/ws    http://127.0.0.1:80/bridge/",
        "node2  http://127.0.0.1:8081/  ws://127.0.0.1:8081/ws  http://127.0.0.1:8081/bridge/",
    ]


def test_ws_urls_are_checked_and_given_to_the_page_in_info():
    assert S.ws_urls({}) == ()
    assert S.ws_urls({S.ENV_WS_URLS: " ws://a/ws, wss://b/ws ,"}) == ("ws://a/ws", "wss://b/ws")
    with pytest.raises(S.SettingsError, match="SWITCHBOARD_WS_URLS: 'http://a' is not a WebSocket URL"):
        S.ws_urls({S.ENV_WS_URLS: "ws://a/ws,http://a"})
    settings = S.Settings(host="127.0.0.1", port=1, backend_port=2, realm="switchboard")
    config = S.load_config(S.CONFIG_FILE)
    info = S.transport(render_config(config, settings, env={S.ENV_WS_URLS: "ws://a/ws,ws://b/ws"}), "web")
    assert info["paths"]["info"]["value"]["ws_urls"] == ["ws://a/ws", "ws://b/ws"]
    alone = S.transport(render_config(config, settings, env={}), "web")
    assert "ws_urls" not in alone["paths"]["info"]["value"]


def test_no_redis_server_is_refused_with_how_to_install_it(tmp_path, monkeypatch):
    from switchboard.router.cluster import redis_server

    def missing():
        raise redis_server.RedisMissing("redis-server is not installed: install it with `make redis-server`")

    monkeypatch.setattr(redis_server, "find_binary", missing)
    runner = cluster.Cluster(cluster.plan(tmp_path, 1, free=iter(range(7000, 7010)).__next__), say=print)
    with pytest.raises(cluster.ClusterError, match="make redis-server"):
        runner.check()
    runner.close()

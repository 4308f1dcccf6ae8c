"""router/node/layout.py through render_config: with SWITCHBOARD_PROXY_WORKERS=N the proxies take the
public port and serve what the router served there; the router keeps its sessions, services and
components behind them. And router/patches/proxykey.py: a proxy reads the node key once."""

import dataclasses
from pathlib import Path

import pytest
from switchboard.router import settings as S
from switchboard.router.node import layout
from switchboard.router.node.process import render_config

from tests.fresh_python import run_code

SETTINGS = S.Settings(host="0.0.0.0", port=1234, backend_port=1235, realm="switchboard", router_web_port=1236)


def rendered(proxies: int) -> dict:
    return render_config(S.load_config(S.CONFIG_FILE), dataclasses.replace(SETTINGS, proxy_workers=proxies))


def test_no_proxies_by_default_and_the_router_on_the_public_port():
    config = rendered(0)
    assert not [w for w in config["workers"] if w["type"] == "proxy"]
    assert S.transport(config, S.WEB_TRANSPORT_ID)["endpoint"]["port"] == 1234


def test_the_proxies_share_the_public_port_started_right_after_the_router():
    config = rendered(2)
    proxies = [w for w in config["workers"] if w["type"] == "proxy"]
    assert [p["id"] for p in proxies] == ["proxy1", "proxy2"]
    assert [w["type"] for w in config["workers"][:3]] == ["router", "proxy", "proxy"]
    for proxy in proxies:
        (web,) = proxy["transports"]
        assert web["endpoint"] == {**web["endpoint"], "interface": "0.0.0.0", "port": 1234, "shared": True}
        assert proxy["options"]["title"] == f"switchboard-worker {proxy['id']}"  # found by Node.worker_pids
    router_web = S.transport(config, S.WEB_TRANSPORT_ID)["endpoint"]
    assert (router_web["interface"], router_web["port"]) == ("127.0.0.1", 1236)


def test_with_tls_the_proxies_terminate_it_and_the_router_listens_in_plain_on_loopback():
    tls = {"key": "/k.pem", "certificate": "/c.pem"}

    class Tls:
        def endpoint_option(self):
            return dict(tls)

    config = render_config(S.load_config(S.CONFIG_FILE), dataclasses.replace(SETTINGS, proxy_workers=2, tls=Tls()))
    assert all(w["transports"][0]["endpoint"]["tls"] == tls for w in config["workers"] if w["type"] == "proxy")
    assert "tls" not in S.transport(config, S.WEB_TRANSPORT_ID)["endpoint"]


def test_each_proxy_serves_the_page_and_ws_as_the_router_did_and_forwards_its_http_services():
    config = rendered(2)
    router_paths = S.transport(config, S.WEB_TRANSPORT_ID)["paths"]
    (proxy,) = [w for w in config["workers"] if w["id"] == "proxy1"]
    paths = proxy["transports"][0]["paths"]
    assert set(paths) == set(router_paths)
    assert paths["/"] == router_paths["/"] and paths["info"] == router_paths["info"]
    ws = paths["ws"]
    assert {k: v for k, v in ws.items() if k != "auth"} == {k: v for k, v in router_paths["ws"].items() if k != "auth"}
    assert ws["auth"]["anonymous"] == router_paths["ws"]["auth"]["anonymous"]
    ticket = ws["auth"]["ticket"]
    assert ticket["authenticator"] == router_paths["ws"]["auth"]["ticket"]["authenticator"]
    assert (ticket["authenticator-realm"], ticket["authenticator-role"]) == ("switchboard", S.BACKEND_ROLE)
    for name in ("bridge", S.HEALTH_PATH, S.READY_PATH, S.METRICS_PATH):
        # /metrics without the client in X-Forwarded-For: it would count as from beyond loopback
        extra = {"port": 1236, "path": name} | ({"name_client": False} if name == S.METRICS_PATH else {})
        assert paths[name] == {"type": "resource", "classname": layout.FORWARD_CLASS, "extra": extra}


def test_every_role_is_routed_to_the_router_over_its_unix_socket_with_anonymous_proxy():
    config = rendered(1)
    router = S.router_worker(config)
    (proxied,) = [t for t in router["transports"] if t["id"] == layout.PROXY_TRANSPORT_ID]
    assert proxied["endpoint"]["type"] == "unix" and not Path(proxied["endpoint"]["path"]).is_absolute()
    assert proxied["auth"] == {"anonymous-proxy": {"type": "static"}}
    (proxy,) = [w for w in config["workers"] if w["type"] == "proxy"]
    roles = {role["name"] for role in router["realms"][0]["roles"]}
    assert proxy["routes"] == {"switchboard": dict.fromkeys(roles, layout.ROUTER_CONNECTION)}
    connection = proxy["connections"][layout.ROUTER_CONNECTION]
    assert connection["transport"]["endpoint"] == {"type": "unix", "path": proxied["endpoint"]["path"]}
    # the backend transport and the components are the router's, as without proxies
    plain = rendered(0)
    assert S.transport(config, S.BACKEND_TRANSPORT_ID) == S.transport(plain, S.BACKEND_TRANSPORT_ID)
    assert [w for w in config["workers"] if w["type"] == "container"] == [
        w for w in plain["workers"] if w["type"] == "container"
    ]


@pytest.mark.parametrize("raw", ["-1", "two", "65", "1.5", "²", "auto2"])
def test_a_bad_proxy_count_is_refused_naming_the_variable(raw):
    with pytest.raises(S.SettingsError, match=S.ENV_PROXY_WORKERS):
        S.Settings.from_env({S.ENV_PROXY_WORKERS: raw})
    assert S.Settings.from_env({S.ENV_PROXY_WORKERS: "3"}).proxy_workers == 3


def test_a_proxy_reads_the_node_key_once(tmp_path):
    # in a fresh interpreter, as a Crossbar worker (this process already runs the asyncio client)
    run_code(
        """
        import sys
        import crossbar.worker.proxy as proxy
        from crossbar.common.key import _maybe_generate_node_key
        from switchboard.router import patches
        patches.install("proxy")
        _maybe_generate_node_key(sys.argv[1])
        first = proxy._read_node_key(sys.argv[1], private=True)
        assert proxy._read_node_key(sys.argv[1], private=True) is first and len(first["hex"]) == 64
        assert proxy._read_node_key.cache_info().hits == 1
        """,
        str(tmp_path),
    )


@pytest.mark.parametrize("raw", [None, "", "auto", " auto "])
def test_no_proxy_count_or_auto_leaves_the_choice_to_the_measurement(raw):
    env = {} if raw is None else {S.ENV_PROXY_WORKERS: raw}
    settings = S.Settings.from_env(env)
    assert settings.layout_auto and settings.proxy_workers == 0
    assert S.proxy_workers(env) is None


def test_an_explicit_proxy_count_is_no_measurement():
    for raw in ("0", "2"):
        settings = S.Settings.from_env({S.ENV_PROXY_WORKERS: raw})
        assert not settings.layout_auto and settings.proxy_workers == int(raw)


@pytest.mark.parametrize("raw", ["0.1", "61", "soon"])
def test_a_bad_measurement_duration_is_refused_naming_the_variable(raw):
    with pytest.raises(S.SettingsError, match=S.ENV_LAYOUT_SECONDS):
        S.layout_seconds({S.ENV_LAYOUT_SECONDS: raw})
    with pytest.raises(S.SettingsError, match=S.ENV_LAYOUT_SECONDS):  # refused at start, before any measurement
        S.Settings.from_env({S.ENV_LAYOUT_SECONDS: raw})
    assert S.layout_seconds({}) == S.DEFAULT_LAYOUT_SECONDS


def test_the_measurement_hub_has_the_echo_component_alone_and_lets_anonymous_use_its_uris():
    from switchboard.router.node import layout_measure, layout_wire

    config = layout_measure.measure_config(S.load_config(S.CONFIG_FILE))
    containers = [w for w in config["workers"] if w["type"] == "container"]
    assert [c["classname"] for w in containers for c in w["components"]] == [layout_measure.ECHO_CLASS]
    roles = {r["name"]: r for r in S.router_worker(config)["realms"][0]["roles"]}
    granted = [p for p in roles["anonymous"]["permissions"] if p["uri"] == layout_wire.PREFIX]
    assert granted and granted[0]["match"] == "prefix"
    assert granted[0]["allow"] == {"call": True, "register": False, "publish": True, "subscribe": True}
    assert S.container_components(config) == 1  # readiness waits for it, so for every proxy's /ws


def test_a_cluster_node_is_given_its_plans_layout_never_auto():
    from switchboard.router.node import cluster

    plan = cluster.plan(Path("/tmp/c"), 2, None, 0, free=iter(range(20000, 20100)).__next__)
    env = cluster.node_env({}, plan.nodes[0], plan, "redis://127.0.0.1:1/0", [])
    assert env[S.ENV_PROXY_WORKERS] == "0"
    assert (
        cluster.node_env({S.ENV_PROXY_WORKERS: "2"}, plan.nodes[0], plan, "redis://x:1/0", [])[S.ENV_PROXY_WORKERS]
        == "2"
    )

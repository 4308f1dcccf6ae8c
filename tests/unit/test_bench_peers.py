"""bench.peers' pure parts: parameters, how rounds become one number, its ratios, the hub variants' configs."""

from pathlib import Path

import pytest
from switchboard.router import settings as S
from switchboard.router.node.process import render_config

from bench import peers
from bench.peers_params import DEFAULT_SYSTEMS, QUICK, TUNING, parse
from bench.peers_servers import VARIANTS, Variant, sb_config
from tests.fresh_python import run_code

#: needs the bench extras (the peers, their load generator): `make bench-smoke`, not `make test`
pytestmark = pytest.mark.bench


def test_defaults_compare_switchboard_before_and_after_with_every_peer():
    params = parse([], env={})
    assert params.systems == DEFAULT_SYSTEMS == ("switchboard", "sb_before", "ceiling", "socketio", "channels")
    assert params.connections == 10_000 and params.fanout_subscribers == (100, 1000)
    assert params.rpc_concurrency == (1, 10, 100) and params.rounds == 1 and params.name == "peers"


def test_flags_beat_the_environment_which_beats_defaults():
    params = parse(["--rpc-seconds", "2.5"], env={"BENCH_PEERS_RPC_SECONDS": "9", "BENCH_PEERS_CONNECTIONS": "500"})
    assert params.rpc_seconds == 2.5 and params.connections == 500


def test_tuning_runs_every_variant_in_rounds_and_writes_its_own_files():
    params = parse(["--tuning"], env={})
    assert params.systems == TUNING["systems"] and params.rounds == 3 and params.name == "tuning"
    assert "sb_before" in params.systems and "ceiling" not in params.systems
    assert parse(["--quick"], env={}).connections == QUICK["connections"]


def test_unknown_systems_are_refused(capsys):
    try:
        parse(["--systems", "switchboard,nats"], env={})
    except SystemExit as e:
        assert e.code == 2
    assert "unknown system/workload ['nats']" in capsys.readouterr().err


def test_the_median_round_is_reported_with_every_round():
    cells = [{"calls_per_s": 300.0, "x": 1}, {"calls_per_s": 100.0, "x": 2}, {"calls_per_s": 200.0, "x": 3}]
    chosen = peers.median_run(cells, "calls_per_s")
    assert chosen["x"] == 3 and chosen["rounds"] == [300.0, 100.0, 200.0]
    assert peers.spread(chosen) == " (100–300)"


def test_a_failed_round_does_not_hide_the_others_and_all_failed_is_an_error():
    ok = {"deliveries_per_s": 5000}
    merged = peers.merge_rounds(
        [
            {"fanout": {"100": {"error": "stalled"}}, "rpc": {}, "connections": None},
            {"fanout": {"100": ok}, "rpc": {}, "connections": None},
        ]
    )
    assert merged["fanout"]["100"]["deliveries_per_s"] == 5000 and "error" not in merged
    failed = peers.merge_rounds([{"error": "no start", "fanout": {}, "rpc": {}, "connections": None}] * 2)
    assert failed["error"] == "no start"


def test_ratios_divide_switchboard_by_each_peer():
    def system(deliveries, calls, kb):
        return {
            "fanout": {"100": {"deliveries_per_s": deliveries}},
            "rpc": {"10": {"calls_per_s": calls}},
            "connections": {"rss_per_session_kb": kb},
        }

    data = {
        "params": {"fanout_subscribers": [100], "rpc_concurrency": [10]},
        "systems": {"switchboard": system(30000, 900, 8.0), "channels": system(3000, 1800, 32.0)},
    }
    assert peers.ratios(data) == {
        "fanout N=100: Switchboard / Channels": 10.0,
        "rpc C=10: Switchboard / Channels": 0.5,
        "RSS per session: Switchboard / Channels": 0.25,
    }


def _proxied_config():
    return sb_config(VARIANTS["sb_proxy"])


def test_proxy_layout_puts_two_proxies_on_the_shared_public_port():
    config = _proxied_config()
    proxies = [w for w in config["workers"] if w["type"] == "proxy"]
    assert [p["id"] for p in proxies] == ["proxy1", "proxy2"]
    # started right after the router: listening before the components register (what Hub waits for)
    assert [w["type"] for w in config["workers"][:3]] == ["router", "proxy", "proxy"]
    committed_ws = S.transport(S.load_config(), "web")["paths"]["ws"]
    for proxy in proxies:
        (web,) = proxy["transports"]
        assert web["id"] == S.WEB_TRANSPORT_ID and web["endpoint"]["shared"] is True
        ws = web["paths"]["ws"]
        assert ws["type"] == "websocket" and ws["serializers"] == committed_ws["serializers"]
        assert ws["options"] == committed_ws["options"]
        assert ws["auth"] == {"anonymous": {"type": "static", "role": "anonymous"}}
        assert proxy["routes"] == {S.realm_name(config): {"anonymous": "router"}}
        backend = proxy["connections"]["router"]
        assert backend["transport"]["endpoint"] == {"type": "unix", "path": "router.sock"}
        assert backend["auth"] == {"anonymous-proxy": {"type": "static"}}
    # rendered, the proxies take the port browsers use; the router's web transport keeps a port of its own
    settings = S.Settings(host="127.0.0.1", port=1234, backend_port=1235, realm=S.realm_name(config))
    rendered = render_config(config, settings)
    ports = {t["endpoint"]["port"] for w in rendered["workers"] if w["type"] == "proxy" for t in w["transports"]}
    assert ports == {1234}
    router_web = S.transport(rendered, S.WEB_TRANSPORT_ID)["endpoint"]
    assert router_web["port"] not in (1234, 1235) and router_web["interface"] == "127.0.0.1"
    assert all(w["options"]["pythonpath"] == [str(settings.home), str(S.PROJECT_ROOT)] for w in rendered["workers"])


def test_proxy_layout_gives_the_router_a_unix_socket_for_anonymous_proxy_and_keeps_the_rest():
    config, plain = _proxied_config(), sb_config(Variant("x", "x"))
    router = S.router_worker(config)
    (proxied,) = [t for t in router["transports"] if t["endpoint"]["type"] == "unix"]
    assert proxied["type"] == "rawsocket" and proxied["endpoint"]["path"] == "router.sock"
    assert not Path(proxied["endpoint"]["path"]).is_absolute()  # in the node directory, never the repo's
    assert proxied["auth"] == {"anonymous-proxy": {"type": "static"}}
    assert "msgpack" in proxied["serializers"]
    # the backend transport, the components and the demo containers are untouched
    assert S.transport(config, S.BACKEND_TRANSPORT_ID) == S.transport(plain, S.BACKEND_TRANSPORT_ID)
    assert router["components"] == S.router_worker(plain)["components"]
    assert router["realms"] == S.router_worker(plain)["realms"]
    containers = [w for w in config["workers"] if w["type"] == "container"]
    assert containers == [w for w in plain["workers"] if w["type"] == "container"]
    assert any(c["components"][0]["classname"] == "switchboard.components.demo.Demo" for c in containers)
    # the router still serves the web app, /info, the bridge and /ws on its own web transport
    assert S.transport(config, S.WEB_TRANSPORT_ID)["paths"] == S.transport(plain, S.WEB_TRANSPORT_ID)["paths"]
    assert VARIANTS["sb_proxy"].all_cpus and VARIANTS["sb_proxy"].connections


def test_the_worker_layout_variants_are_in_the_tuning_run():
    assert {"sb_two_cores", "sb_proxy"} <= set(TUNING["systems"])
    assert VARIANTS["sb_two_cores"].all_cpus and VARIANTS["sb_two_cores"].config is None
    assert not any(v.all_cpus for k, v in VARIANTS.items() if k not in ("sb_two_cores", "sb_proxy"))


def test_the_proxies_load_lazy_log_arguments_and_read_the_node_key_once(tmp_path):
    (proxy,) = [w for w in _proxied_config()["workers"] if w["id"] == "proxy1"]
    assert proxy["transports"][0]["paths"]["bench"]["classname"] == "bench.peers_proxy.resource"
    # in a fresh interpreter, as a Crossbar worker (this process already runs the asyncio client)
    script = """
        import sys
        import autobahn.wamp.websocket as wamp_websocket, crossbar.worker.proxy as proxy
        from crossbar.common.key import _maybe_generate_node_key
        from twisted.web.resource import NoResource
        from bench import peers_proxy
        from switchboard.router import patches
        from switchboard.router.patches import fastlog
        patches.install("proxy")
        _maybe_generate_node_key(sys.argv[1])
        assert isinstance(peers_proxy.resource({}), NoResource)
        assert isinstance(proxy.hltype(fastlog.install), fastlog.Lazy)
        assert isinstance(wamp_websocket.hlval("WAMP-Transmit("), fastlog.Lazy)
        first = proxy._read_node_key(sys.argv[1], private=True)
        assert proxy._read_node_key(sys.argv[1], private=True) is first and len(first["hex"]) == 64
        peers_proxy.resource({})  # a second transport: wrapped once
        assert proxy._read_node_key.cache_info().hits == 1
    """
    run_code(script, str(tmp_path), unset=(S.ENV_LAZY_LOG_ARGS,))


def test_the_asyncio_reactor_variant_changes_only_the_router_workers_environment():
    config, plain = sb_config(VARIANTS["sb_asyncio"]), sb_config(Variant("x", "x"))
    router = S.router_worker(config)
    assert router["options"]["env"] == {"inherit": True, "vars": {"CROSSBAR_REACTOR": "asyncio"}}
    router["options"].pop("env")
    if not router["options"]:
        del router["options"]  # the committed config gives the router worker no options of its own
    assert config == plain

"""bench.peers' pure parts: parameters, how rounds become one number, its ratios, the hub variants' configs."""

import pytest
from switchboard.router import settings as S

from bench import peers
from bench.peers_params import DEFAULT_SYSTEMS, QUICK, TUNING, parse
from bench.peers_servers import VARIANTS, Variant, sb_config

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


def test_the_proxy_variant_is_the_products_proxy_layout():
    config = sb_config(VARIANTS["sb_proxy"])
    assert [w["id"] for w in config["workers"] if w["type"] == "proxy"] == ["proxy1", "proxy2"]
    assert VARIANTS["sb_proxy"].all_cpus and VARIANTS["sb_proxy"].connections


def test_the_worker_layout_variants_are_in_the_tuning_run():
    assert {"sb_two_cores", "sb_proxy"} <= set(TUNING["systems"])
    assert VARIANTS["sb_two_cores"].all_cpus and VARIANTS["sb_two_cores"].config is None
    assert not any(v.all_cpus for k, v in VARIANTS.items() if k not in ("sb_two_cores", "sb_proxy"))


def test_the_asyncio_reactor_variant_changes_only_the_router_workers_environment():
    config, plain = sb_config(VARIANTS["sb_asyncio"]), sb_config(Variant("x", "x"))
    router = S.router_worker(config)
    assert router["options"]["env"] == {"inherit": True, "vars": {"CROSSBAR_REACTOR": "asyncio"}}
    router["options"].pop("env")
    if not router["options"]:
        del router["options"]  # the committed config gives the router worker no options of its own
    assert config == plain

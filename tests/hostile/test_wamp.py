"""Hostile WAMP over /ws (JSON, MessagePack, CBOR) and over the RawSocket backend port: before HELLO,
in a session, after GOODBYE; before and after WAMP-CRA authentication. Each connection must end
with the hub closing it or still answering on it; every batch, the hub must be healthy (health.py).
"""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from tests.hostile import strategies as H
from tests.hostile.clients import RawCase, WsCase, run_rs, run_rs_handshake, run_ws
from tests.hostile.health import fuzz, fuzzed_hub


@pytest.fixture(scope="module")
def hub_watch(tmp_path_factory):
    with fuzzed_hub(tmp_path_factory.mktemp("hostile_wamp")) as hub_and_watch:
        yield hub_and_watch


def ws_cases(serializer: str):
    plain = st.tuples(H.wires(serializer), st.just(H.Framing()))
    framed = st.tuples(H.wires(serializer), H.framings)
    return st.builds(
        WsCase,
        st.sampled_from(["none", "hello", "hello", "goodbye"]),
        st.lists(st.one_of(plain, plain, framed), min_size=1, max_size=5),
        st.sampled_from(["probe", "probe", "probe", "half_close", "reset"]),
    )


def rs_cases(serializer: str, openings):
    pre_auth = st.one_of(H.hellos(serializer), H.authenticates(serializer), H.messages(serializer))
    return st.builds(
        RawCase,
        st.sampled_from(openings),
        st.lists(st.tuples(H.wires(serializer, pre_auth), H.raw_frames), min_size=1, max_size=4),
        st.sampled_from(["probe", "probe", "probe", "half_close", "reset"]),
    )


@pytest.mark.parametrize("serializer", H.SERIALIZERS)
def test_websocket_survives_hostile_wamp(hub_watch, serializer):
    hub, watch = hub_watch
    fuzz(watch, ws_cases(serializer), lambda case: run_ws(hub, serializer, case), f"/ws {serializer}")


@pytest.mark.parametrize("serializer", H.SERIALIZERS)
def test_rawsocket_survives_hostile_input_before_authentication(hub_watch, serializer):
    hub, watch = hub_watch
    fuzz(
        watch,
        rs_cases(serializer, ["none", "none", "challenged"]),
        lambda case: run_rs(hub, serializer, case),
        f"RawSocket {serializer} before authentication",
    )


def test_rawsocket_survives_hostile_handshakes(hub_watch):
    hub, watch = hub_watch
    cases = st.tuples(H.raw_handshakes, st.binary(max_size=16))
    fuzz(watch, cases, lambda case: run_rs_handshake(hub, *case), "RawSocket handshakes")


@pytest.mark.parametrize("serializer", ["json", "cbor"])
def test_rawsocket_backend_session_survives_hostile_messages(hub_watch, serializer):
    hub, watch = hub_watch
    cases = st.builds(
        RawCase,
        st.just("authenticated"),
        st.lists(st.tuples(H.wires(serializer, H.session_messages(serializer)), H.raw_frames), min_size=1, max_size=4),
        st.sampled_from(["probe", "probe", "half_close", "reset"]),
    )
    fuzz(watch, cases, lambda case: run_rs(hub, serializer, case), f"RawSocket {serializer} backend session")

"""The cluster's replay rules (router/cluster/claims.py), its Redis names and the signature check
without the nonce: pure, no Redis."""

import pytest
from switchboard.bridge.replay import ReplayCacheFull
from switchboard.bridge.signing import SignatureError, Verifier, sign_request
from switchboard.router.cluster import claims, wire


class FakeClock:
    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_replay_keys_are_the_realms_and_keep_kinds_apart():
    assert wire.replay_key("switchboard", "ticket", "abc") == "switchboard:switchboard:replay:ticket:abc"
    assert wire.replay_key("r", "bridge_nonce", "k:n") != wire.replay_key("r", "event_id", "k:n")
    assert wire.replay_key("other", "ticket", "abc").startswith("switchboard:other:")


def test_answers_of_redis_are_read_strictly():
    assert claims.first_use(True) and claims.first_use(b"OK")
    assert not claims.first_use(None) and not claims.first_use(False)
    assert [claims.claim_state(r) for r in (0, 1, 2)] == [claims.NEW, claims.DONE, claims.PENDING]
    with pytest.raises(claims.ReplayUnavailable):
        claims.claim_state(b"surprise")
    assert issubclass(claims.ReplayUnavailable, ReplayCacheFull), "every full-cache refusal applies to it"


def test_ttls_are_whole_milliseconds_and_never_zero():
    assert claims.milliseconds(600) == 600_000
    assert claims.milliseconds(0.0001) == 1
    assert claims.milliseconds(claims.PENDING_TTL) == 30_000


def test_an_outage_refuses_at_once_then_lets_a_try_through_and_logs_twice_in_all():
    clock = FakeClock()
    outage = claims.Outage(retry=1.0, clock=clock)
    assert outage.refusing() is None and not outage.recovered()
    assert outage.failed("Connection refused") is True, "the first failure is logged"
    assert outage.refusing() == "Connection refused"
    clock.advance(0.5)
    assert outage.refusing() == "Connection refused"
    clock.advance(0.6)
    assert outage.refusing() is None, "after the retry delay a request may try Redis again"
    assert outage.failed("Connection refused") is False, "still down: no second log line"
    assert outage.refusing() is not None
    assert outage.recovered() is True and outage.refusing() is None
    assert outage.recovered() is False


def test_the_refusal_says_what_is_wrong():
    message = claims.refusal("Connection refused")
    assert "Redis" in message and "unreachable" in message and "Connection refused" in message


def test_authentic_checks_all_but_the_nonce_and_names_the_nonce_as_verify_records_it():
    clock = FakeClock(1_000_000.0)
    verifier = Verifier({"django": "s" * 32}, clock=clock)
    body = b'{"topic": "a"}'
    headers = sign_request("django", "s" * 32, "POST", "/bridge/publish", body, now=clock(), nonce="n1")
    assert verifier.authentic("POST", "/bridge/publish", headers, body) == ("django", "django:n1")
    assert verifier.authentic("POST", "/bridge/publish", headers, body) == ("django", "django:n1"), "not recorded"
    assert verifier.verify("POST", "/bridge/publish", headers, body) == "django"
    assert "django:n1" in verifier.nonces
    with pytest.raises(SignatureError) as info:
        verifier.verify("POST", "/bridge/publish", headers, body)
    assert info.value.reason == "replayed"
    with pytest.raises(SignatureError) as info:
        verifier.authentic("POST", "/bridge/publish", headers, b"{}")
    assert info.value.reason == "bad_signature"

import pytest
from switchboard.bridge.replay import NonceCache, ReplayCacheFull
from switchboard.bridge.signing import (
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SignatureError,
    Verifier,
    sign_request,
)


class Clock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def verifier(clock, **kw):
    return Verifier({"django": "s3cret"}, clock=clock, **kw)


def signed(clock, body=b'{"topic":"a"}', path="/bridge/publish", **kw):
    return sign_request("django", "s3cret", "POST", path, body, now=clock.now, **kw)


def reason(v, headers, body=b'{"topic":"a"}', path="/bridge/publish", method="POST"):
    with pytest.raises(SignatureError) as info:
        v.verify(method, path, headers, body)
    return info.value.reason


def test_a_signed_request_verifies_once():
    clock = Clock()
    v = verifier(clock)
    headers = signed(clock)
    assert v.verify("POST", "/bridge/publish", headers, b'{"topic":"a"}') == "django"
    assert reason(v, headers) == "replayed"


def test_any_change_breaks_the_signature():
    clock = Clock()
    v = verifier(clock)
    assert reason(v, signed(clock), body=b'{"topic":"b"}') == "bad_signature"
    assert reason(v, signed(clock), path="/bridge/call") == "bad_signature"
    assert reason(v, signed(clock), method="PUT") == "bad_signature"
    assert reason(v, {**signed(clock), HEADER_SIGNATURE: "0" * 64}) == "bad_signature"
    assert (
        reason(v, sign_request("django", "other", "POST", "/bridge/publish", b'{"topic":"a"}', now=clock.now))
        == "bad_signature"
    )


def test_missing_unknown_and_stale():
    clock = Clock()
    v = verifier(clock, window=300)
    assert reason(v, {}) == "unsigned"
    assert (
        reason(v, sign_request("nobody", "s3cret", "POST", "/bridge/publish", b'{"topic":"a"}', now=clock.now))
        == "unknown_key"
    )
    assert reason(v, {**signed(clock), HEADER_TIMESTAMP: "yesterday"}) == "bad_timestamp"
    old = signed(Clock(clock.now - 301))
    assert reason(v, old) == "stale_timestamp"
    future = signed(Clock(clock.now + 301))
    assert reason(v, future) == "stale_timestamp"
    assert reason(v, signed(clock, nonce="n" * 200)) == "bad_nonce"
    assert v.verify("POST", "/bridge/publish", signed(Clock(clock.now - 299)), b'{"topic":"a"}')


def test_a_failed_verification_does_not_burn_the_nonce():
    clock = Clock()
    v = verifier(clock)
    headers = signed(clock)
    assert reason(v, headers, body=b"tampered") == "bad_signature"
    assert v.verify("POST", "/bridge/publish", headers, b'{"topic":"a"}')


def test_nonce_cache_expires_and_is_bounded():
    clock = Clock()
    cache = NonceCache(10, clock=clock, max_entries=2)
    assert cache.check_and_add("a") and cache.check_and_add("b")
    assert not cache.check_and_add("a")
    with pytest.raises(ReplayCacheFull):
        cache.check_and_add("c")
    clock.now += 11
    assert cache.check_and_add("a") and len(cache) == 1


def test_signature_headers_are_fresh_each_time():
    clock = Clock()
    assert signed(clock)[HEADER_NONCE] != signed(clock)[HEADER_NONCE]

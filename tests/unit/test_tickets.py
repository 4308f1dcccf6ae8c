import json

import pytest
from switchboard.bridge import tickets


def reason(secret, ticket, now):
    with pytest.raises(tickets.TicketError) as info:
        tickets.verify(secret, ticket, now=now)
    return info.value.uri


def test_mint_and_verify():
    t = tickets.mint("k", 42, now=1000, ttl=60, extra={"name": "ada"})
    payload = tickets.verify("k", t, now=1030)
    assert payload["sub"] == "42" and payload["exp"] == 1060 and payload["extra"] == {"name": "ada"}
    assert payload["jti"] != tickets.verify("k", tickets.mint("k", 42, now=1000), now=1000)["jti"]


def test_expired_forged_and_malformed():
    t = tickets.mint("k", "7", now=1000, ttl=60)
    assert reason("k", t, now=1066) == tickets.EXPIRED
    assert reason("other", t, now=1000) == tickets.INVALID
    payload, mac = t.split(".")
    assert reason("k", payload[:-2] + "AA." + mac, now=1000) == tickets.INVALID
    for junk in ["", "abc", "a.b.c", None, 5, "x" * 5000]:
        assert reason("k", junk, now=1000) == tickets.INVALID


def test_issued_in_the_future_or_too_long_lived():
    assert reason("k", tickets.mint("k", "7", now=2000), now=1000) == tickets.INVALID
    with pytest.raises(ValueError):
        tickets.mint("k", "7", ttl=tickets.MAX_TTL + 1)


def signed(secret, **payload):
    """A correctly signed ticket with a hand-written payload (mint refuses what these tests need)."""
    fields = {"v": tickets.VERSION, "sub": "7", "iat": 1000, "exp": 1060, "jti": "j", "extra": {}, **payload}
    encoded = tickets._b64(json.dumps(fields).encode())
    return f"{encoded}.{tickets._mac(secret, encoded)}"


@pytest.mark.parametrize("sub", ["1.notes", "1#2", "a b", "", "x" * 65, "user.1", "*", "ü"])
def test_a_sub_must_be_one_uri_component_when_minting_and_verifying(sub):
    with pytest.raises(tickets.TicketError) as info:
        tickets.mint("k", sub, now=1000)
    assert info.value.uri == tickets.INVALID and "one URI component" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert reason("k", signed("k", sub=sub), now=1000) == tickets.INVALID


def test_plain_subs_pass():
    for sub in ("42", "ada_lovelace", "0b8f6c1e-6f2a-4a3b-9d7e-2c1f0e9a8b7c", "x" * 64):
        assert tickets.verify("k", tickets.mint("k", sub, now=1000), now=1000)["sub"] == sub


@pytest.mark.parametrize(
    "field, value",
    [
        ("sub", 42),
        ("sub", None),
        ("sub", ["1"]),
        ("sub", True),
        ("jti", 7),
        ("jti", ["j"]),
        ("jti", ""),
        ("jti", "j" * 129),
        ("extra", []),
        ("extra", "x"),
        ("exp", 1060.5),
        ("exp", True),
        ("iat", None),
        ("iat", "1000"),
    ],
)
def test_every_field_of_a_signed_payload_has_its_type_checked(field, value):
    assert reason("k", signed("k", **{field: value}), now=1000) == tickets.INVALID


def test_a_payload_without_extra_gets_an_empty_one():
    payload = json.loads(tickets._unb64(signed("k").split(".")[0]))
    del payload["extra"]
    encoded = tickets._b64(json.dumps(payload).encode())
    assert tickets.verify("k", f"{encoded}.{tickets._mac('k', encoded)}", now=1000)["extra"] == {}

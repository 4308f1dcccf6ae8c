import pytest

from bridge import tickets


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

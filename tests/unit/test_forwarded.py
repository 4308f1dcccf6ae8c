"""Which X-Forwarded-For hop is the client (bridge/forwarded.py): only a trusted peer's header is
read, right to left, up to the first hop that is not a trusted proxy."""

import pytest
from switchboard.bridge.forwarded import client_address, is_trusted, parse_trusted

NGINX = parse_trusted("127.0.0.1")
TWO_TIERS = parse_trusted("127.0.0.1, 10.0.0.0/8")


def test_the_trusted_list_takes_addresses_and_networks_and_names_a_bad_entry():
    assert [str(n) for n in parse_trusted("127.0.0.1, 10.0.0.0/8 ::1")] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    assert parse_trusted("") == ()
    with pytest.raises(ValueError, match="SWITCHBOARD_TRUSTED_PROXIES: 'nginx' is not an IP address or network"):
        parse_trusted("127.0.0.1,nginx")


def test_without_trusted_proxies_the_header_is_ignored():
    assert client_address("127.0.0.1", ["203.0.113.9"], ()) == "127.0.0.1"


def test_an_untrusted_peer_cannot_pick_its_address():
    assert client_address("198.51.100.7", ["203.0.113.9"], NGINX) == "198.51.100.7"


def test_the_hop_the_trusted_proxy_appended_is_the_client_and_what_the_client_wrote_is_not_believed():
    assert client_address("127.0.0.1", ["203.0.113.9"], NGINX) == "203.0.113.9"
    # the client sent "X-Forwarded-For: 1.2.3.4" itself; nginx appended its real address
    assert client_address("127.0.0.1", ["1.2.3.4, 203.0.113.9"], NGINX) == "203.0.113.9"
    assert client_address("127.0.0.1", ["1.2.3.4", "203.0.113.9"], NGINX) == "203.0.113.9"  # two header lines


def test_trusted_hops_are_skipped_from_the_right():
    # client -> load balancer 10.1.2.3 -> nginx 127.0.0.1 -> hub
    assert client_address("127.0.0.1", ["6.6.6.6, 203.0.113.9, 10.1.2.3"], TWO_TIERS) == "203.0.113.9"
    assert client_address("127.0.0.1", ["10.9.9.9, 10.1.2.3"], TWO_TIERS) == "10.9.9.9"  # all trusted: left-most


def test_no_header_or_a_malformed_hop_stops_at_the_last_vouched_address():
    assert client_address("127.0.0.1", [], NGINX) == "127.0.0.1"
    assert client_address("127.0.0.1", [" , "], NGINX) == "127.0.0.1"
    assert client_address("127.0.0.1", ["203.0.113.9, unknown"], NGINX) == "127.0.0.1"
    assert client_address("127.0.0.1", ["unknown, 10.1.2.3"], TWO_TIERS) == "10.1.2.3"


def test_ports_brackets_and_mapped_addresses():
    assert client_address("127.0.0.1", ["203.0.113.9:5555"], NGINX) == "203.0.113.9"
    assert client_address("127.0.0.1", ["[2001:db8::1]:443"], NGINX) == "2001:db8::1"
    assert client_address("127.0.0.1", ["2001:db8::1"], NGINX) == "2001:db8::1"
    assert is_trusted("::ffff:127.0.0.1", NGINX) and not is_trusted("garbage", NGINX)

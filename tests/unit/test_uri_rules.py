"""switchboard.router.services.uri_rules: Crossbar's matching, the one used for permissions and
history retention, and the one backoff (bridge.retry.backoff) every retry loop uses."""

import pytest
from switchboard.bridge.retry import backoff
from switchboard.router.services.uri_rules import UriRules, starred


def test_an_exact_rule_beats_any_prefix_and_the_longest_prefix_wins():
    rules = UriRules(
        [
            ("chat.", "prefix", "chat"),
            ("chat.room.", "prefix", "room"),
            ("chat.room.lobby", "exact", "lobby"),
            ("chat.room.lobby.x", "exact", "x"),
        ]
    )
    assert rules.lookup("chat.room.lobby") == "lobby"
    assert rules.lookup("chat.room.other") == "room"
    assert rules.lookup("chat.rooms") == "chat"
    assert rules.lookup("public.x") is None


def test_other_matches_are_refused():
    with pytest.raises(ValueError, match="not wildcard"):
        UriRules([("a..b", "wildcard", 1)])


def test_backoff_doubles_up_to_its_cap():
    assert [backoff(n, 0.5, cap=3.0) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff(2, 2.0, cap=300.0, factor=3.0) == 18.0


def test_a_rule_without_match_is_read_as_crossbar_reads_starred_uris():
    assert starred("chat.*", None) == ("chat.", "prefix")
    assert starred("chat.post", None) == ("chat.post", "exact")
    assert starred("a.*.b", None) == ("a..b", "wildcard")
    assert starred("chat.", "prefix") == ("chat.", "prefix")

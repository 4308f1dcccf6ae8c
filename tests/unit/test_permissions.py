from switchboard.router.services.dedupe import PublishedIds
from switchboard.router.services.permissions import Decision, Rules, decide_for_user, public_rules


def test_exact_beats_prefix_and_longest_prefix_wins():
    rules = Rules(
        [
            {"uri": "a.", "match": "prefix", "allow": {"call": True}},
            {"uri": "a.b.", "match": "prefix", "allow": {"subscribe": True}},
            {"uri": "a.b.c", "match": "exact", "allow": {"publish": True}, "disclose": {"publisher": True}},
        ]
    )
    assert rules.decide("a.x", "call") == Decision(True)
    assert rules.decide("a.b.x", "call") == Decision(False)
    assert rules.decide("a.b.x", "subscribe") == Decision(True)
    assert rules.decide("a.b.c", "publish") == Decision(True, True)
    assert rules.decide("z", "call") == Decision(False)


def test_user_gets_public_rules_plus_own_private_topics():
    rules = public_rules()
    assert decide_for_user(rules, "42", "demo.add2", "call").allow
    assert decide_for_user(rules, "42", "chat.post", "call").disclose
    own = decide_for_user(rules, "42", "user.42.notifications", "subscribe")
    assert own.allow and not own.cache, "Crossbar caches per role: an authid-dependent answer must not be cached"
    assert not decide_for_user(rules, "42", "user.43.notifications", "subscribe").cache
    assert decide_for_user(rules, "42", "demo.add2", "call").cache
    assert decide_for_user(rules, "42", "user.42.", "subscribe", "prefix").allow
    for uri, match in [
        ("user.43.notifications", None),
        ("user.", "prefix"),
        ("user.4", "prefix"),
        ("user..notifications", "wildcard"),
        ("chat.room.lobby", "wildcard"),
        ("us", "prefix"),
        ("", "prefix"),
    ]:
        assert not decide_for_user(rules, "42", uri, "subscribe", match).allow, (uri, match)
    assert not decide_for_user(rules, "42", "user.42.notifications", "publish").allow
    assert not decide_for_user(rules, "42", "demo.add2", "register").allow
    assert not decide_for_user(rules, "42", "wamp.session.list", "call").allow


def test_published_ids_expire_and_are_bounded():
    now = [0.0]
    ids = PublishedIds(ttl=10, max_ids=2, clock=lambda: now[0])
    ids.add("a")
    ids.add("b")
    ids.add("c")
    assert "a" not in ids and "b" in ids and "c" in ids
    now[0] = 11
    assert "b" not in ids and len(ids) == 0


def test_an_authid_that_is_not_one_uri_component_owns_no_private_topics():
    rules = public_rules()
    for authid, uri in [
        ("1.notes", "user.1.notes.x"),
        ("1.", "user.1..x"),
        ("1#", "user.1#.x"),
        ("", "user..x"),
        (None, "user.None.x"),
        (42, "user.42.x"),
    ]:
        for match in (None, "exact", "prefix"):
            decision = decide_for_user(rules, authid, uri, "subscribe", match)
            assert not decision.allow and not decision.cache, (authid, uri, match)
    assert decide_for_user(rules, "1", "user.1.notes.x", "subscribe").allow
    assert decide_for_user(rules, "1.notes", "demo.add2", "call").allow  # the public surface stays

"""What a node knows of the other nodes' procedures after a read of the registry (pure:
router/patches/calls.py, known_procedures)."""

from switchboard.router.patches.calls import known_procedures

A, B = [("app.a", "exact")], [("app.b", "prefix")]


def test_a_read_gives_the_other_nodes_lists_and_leaves_this_nodes_own_out():
    assert known_procedures({}, {"me": [("mine", "exact")], "a": A}, "me", keep_missing=False) == {"a": A}


def test_a_node_missing_from_a_read_is_gone_but_kept_just_after_redis_was_away():
    before = {"a": A, "b": B}
    assert known_procedures(before, {"b": B}, "me", keep_missing=False) == {"b": B}
    assert known_procedures(before, {"b": B}, "me", keep_missing=True) == {"a": A, "b": B}


def test_what_a_node_wrote_replaces_what_was_known_of_it_even_just_after_an_outage():
    assert known_procedures({"a": A}, {"a": B}, "me", keep_missing=True) == {"a": B}
    assert known_procedures({"a": A}, {"a": []}, "me", keep_missing=True) == {"a": []}

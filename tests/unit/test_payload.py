"""bridge/payload.py: nesting measured before decoding, and values every serializer can carry."""

import math

import pytest
from switchboard.bridge.payload import (
    INT_MAX,
    INT_MIN,
    NOT_PORTABLE,
    TOO_DEEP,
    PayloadError,
    check_json_nesting,
    check_value,
)


def nested(depth):
    """`depth` lists, one inside the other."""
    value = 0
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "text", [b"[" * 33, b"[" * 100_000, b'{"a":' * 33 + b"1" + b"}" * 33, b"[" * 20 + b"{}" * 30 + b"[" * 13]
)
def test_json_deeper_than_the_limit_is_refused_before_decoding(text):
    with pytest.raises(PayloadError) as info:
        check_json_nesting(text, 32)
    assert info.value.uri == TOO_DEEP


@pytest.mark.parametrize(
    "text",
    [
        b"[" * 32 + b"]" * 32,
        b"[" + b"[1]," * 1000 + b"[]]",
        b'["' + b"[" * 100 + b'"]',
        b'["\\"' + b"[" * 100 + b'"]',
        b'{"k": "' + b"{" * 50 + b'"}',
    ],
)
def test_json_within_the_limit_passes_brackets_in_strings_do_not_count(text):
    check_json_nesting(text, 32)


def test_value_depth_counts_the_value_itself_as_one_level():
    check_value(nested(32), 32)
    with pytest.raises(PayloadError) as info:
        check_value(nested(33), 32)
    assert info.value.uri == TOO_DEEP
    check_value({"a": {"b": nested(30)}}, 32)
    with pytest.raises(PayloadError):
        check_value({"a": {"b": nested(31)}}, 32)


@pytest.mark.parametrize(
    "value",
    [
        INT_MAX + 1,
        INT_MIN - 1,
        math.nan,
        math.inf,
        -math.inf,
        {1: "a"},
        {(1, 2): "a"},
        {1, 2},
        object(),
        [1, [2, [math.nan]]],
        {"k": [INT_MAX + 1]},
    ],
)
def test_values_one_serializer_cannot_carry_are_refused(value):
    with pytest.raises(PayloadError) as info:
        check_value(value, 32)
    assert info.value.uri == NOT_PORTABLE


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        INT_MAX,
        INT_MIN,
        1.5,
        "text",
        b"\x00bytes",
        [],
        {},
        [1, "a", None, {"k": [b"x", 2.0, {"n": False}]}],
        (1, 2),
    ],
)
def test_portable_values_pass(value):
    check_value(value, 32)

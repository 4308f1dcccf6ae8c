import math

import pytest
from autobahn.wamp.exception import ApplicationError
from switchboard.bridge import uris
from switchboard.components import validation


def uri_of(fn, *args):
    with pytest.raises(ApplicationError) as info:
        fn(*args)
    return info.value.error


@pytest.mark.parametrize("value", [1, -2, 3.5, 0])
def test_number_accepts_finite_numbers(value):
    assert validation.number(value, "a") == value


@pytest.mark.parametrize("value", ["1", None, True, [1], {"a": 1}, math.inf, math.nan])
def test_number_rejects_non_numbers(value):
    assert uri_of(validation.number, value, "a") == uris.INVALID_ARGUMENT


@pytest.mark.parametrize("value", ["lobby", "a", "room-1", "r_2", "x" * 32])
def test_room_accepts_uri_safe_names(value):
    assert validation.room(value) == value


@pytest.mark.parametrize("value", ["", "Lobby", "a.b", "a b", "-x", "x" * 33, None, 5, "a#", "é"])
def test_room_rejects_names_unsafe_in_a_uri(value):
    assert uri_of(validation.room, value) == uris.INVALID_ROOM


def test_nick_is_stripped_and_bounded():
    assert validation.nick("  ada ") == "ada"
    assert validation.nick("x" * validation.MAX_NICK_LENGTH)
    for bad in ["", "   ", "x" * (validation.MAX_NICK_LENGTH + 1), "a\x00b", None, 3]:
        assert uri_of(validation.nick, bad) == uris.INVALID_NICK


def test_text_rules():
    assert validation.text(" hi\nthere\t ") == "hi\nthere"
    assert validation.text("x" * validation.MAX_TEXT_LENGTH)
    assert uri_of(validation.text, "x" * (validation.MAX_TEXT_LENGTH + 1)) == uris.TEXT_TOO_LONG
    for bad in ["", "  \n ", "bell\x07", None, 42]:
        assert uri_of(validation.text, bad) == uris.INVALID_TEXT

"""bridge/limits.py: every limit parsed and refused with its variable named, and documented once."""

import re
from pathlib import Path

import pytest
from switchboard.bridge import limits

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_defaults_without_environment():
    values = limits.read({})
    assert values == {limit.name: limit.default for limit in limits.LIMITS.values()}


def test_a_value_from_the_environment_overrides_the_default():
    assert limits.value("max_depth", {"SWITCHBOARD_MAX_DEPTH": "8"}) == 8
    assert limits.value("calls_per_second", {"SWITCHBOARD_CALLS_PER_SECOND": "2.5"}) == 2.5
    assert limits.value("calls_per_second", {"SWITCHBOARD_CALLS_PER_SECOND": "0"}) == 0  # off


@pytest.mark.parametrize(
    "name, raw",
    [
        ("max_depth", "deep"),
        ("max_depth", "0"),
        ("max_depth", "2.5"),
        ("send_buffer", "-1"),
        ("calls_per_second", "inf"),
        ("calls_per_second", "nan"),
        ("max_subscriptions", "0"),
    ],
)
def test_an_unusable_value_is_refused_naming_the_variable(name, raw):
    limit = limits.LIMITS[name]
    with pytest.raises(limits.LimitError, match=limit.env):
        limits.value(name, {limit.env: raw})


def test_every_limit_is_documented_once_with_its_default():
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- limits-table")[1].split("<!-- /limits-table -->")[0]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(SWITCHBOARD_\w+)` \| ([^|]+) \|", table, re.M)}
    assert set(rows) == {limit.env for limit in limits.LIMITS.values()}, "docs/security.md's table vs bridge/limits.py"
    for limit in limits.LIMITS.values():
        documented = rows[limit.env].split()[0].replace(",", "")
        assert float(documented) == limit.default, f"{limit.env}: docs say {rows[limit.env]!r}, not {limit.default}"

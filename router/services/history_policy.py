"""Which topics keep history and for how long: pure, from the history component's config.

Rules are {"uri", "match": "exact"|"prefix", "max_events", "max_age"}; like permissions, an exact
rule beats a prefix rule and the longest prefix wins (router/services/uri_rules.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.router.services.uri_rules import MATCHES, UriRules

#: Defaults for a rule that does not say.
DEFAULT_MAX_EVENTS = 1000
DEFAULT_MAX_AGE = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Retention:
    uri: str
    match: str
    max_events: int = DEFAULT_MAX_EVENTS
    max_age: float = DEFAULT_MAX_AGE


class HistoryPolicy:
    def __init__(self, rules: list[dict]):
        parsed = []
        for rule in rules:
            match = rule.get("match", "exact")
            if match not in MATCHES:
                raise ValueError(f"history rule {rule.get('uri')!r}: match must be exact or prefix")
            max_events = int(rule.get("max_events", DEFAULT_MAX_EVENTS))
            max_age = float(rule.get("max_age", DEFAULT_MAX_AGE))
            if not rule.get("uri") or max_events < 1 or max_age <= 0:
                raise ValueError(f"history rule {rule!r}: needs a uri, max_events >= 1 and max_age > 0")
            parsed.append(Retention(rule["uri"], match, max_events, max_age))
        self.rules = parsed
        self._rules = UriRules((r.uri, r.match, r) for r in parsed)

    def retention(self, topic: str) -> Retention | None:
        return self._rules.lookup(topic)

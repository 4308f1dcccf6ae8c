"""Which topics keep history and for how long: pure, from the history component's config.

Rules are {"uri", "match": "exact"|"prefix", "max_events", "max_age"}; like permissions, an exact
rule beats a prefix rule and the longest prefix wins.
"""

from __future__ import annotations

from dataclasses import dataclass

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
            if match not in ("exact", "prefix"):
                raise ValueError(f"history rule {rule.get('uri')!r}: match must be exact or prefix")
            max_events = int(rule.get("max_events", DEFAULT_MAX_EVENTS))
            max_age = float(rule.get("max_age", DEFAULT_MAX_AGE))
            if not rule.get("uri") or max_events < 1 or max_age <= 0:
                raise ValueError(f"history rule {rule!r}: needs a uri, max_events >= 1 and max_age > 0")
            parsed.append(Retention(rule["uri"], match, max_events, max_age))
        self.rules = parsed
        self._exact = {r.uri: r for r in parsed if r.match == "exact"}
        self._prefix = sorted((r for r in parsed if r.match == "prefix"), key=lambda r: len(r.uri), reverse=True)

    def retention(self, topic: str) -> Retention | None:
        if topic in self._exact:
            return self._exact[topic]
        return next((r for r in self._prefix if topic.startswith(r.uri)), None)

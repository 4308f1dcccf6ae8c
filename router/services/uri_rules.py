"""Crossbar's matching of URI rules, for the rules Switchboard reads itself (permissions of the
dynamic authorizer, history retention): an exact rule beats any prefix rule; the longest prefix
wins. Pure; one implementation for both."""

from __future__ import annotations

from typing import Generic, Iterable, TypeVar

T = TypeVar("T")

MATCHES = ("exact", "prefix")


def starred(uri: str, match: str | None) -> tuple[str, str]:
    """A rule's (uri, match) as Crossbar reads it: without an explicit match, "a.b.*" is the prefix
    "a.b.", a "*" elsewhere makes a wildcard, anything else is exact."""
    if match is not None:
        return uri, match
    if uri.endswith("*") and uri.count("*") == 1:
        return uri[:-1], "prefix"
    return (uri.replace("*", ""), "wildcard") if "*" in uri else (uri, "exact")


class UriRules(Generic[T]):
    """Rules given as (uri, match, value); `lookup(uri)` is the value of the rule that applies."""

    def __init__(self, rules: Iterable[tuple[str, str, T]]):
        rules = list(rules)
        unknown = sorted({match for _, match, _ in rules if match not in MATCHES})
        if unknown:
            raise ValueError(f"only exact and prefix rules are supported, not {', '.join(unknown)}")
        self._exact = {uri: value for uri, match, value in rules if match == "exact"}
        self._prefix = sorted(
            ((uri, value) for uri, match, value in rules if match == "prefix"),
            key=lambda rule: len(rule[0]),
            reverse=True,
        )

    def lookup(self, uri: str) -> T | None:
        if uri in self._exact:
            return self._exact[uri]
        return next((value for prefix, value in self._prefix if uri.startswith(prefix)), None)

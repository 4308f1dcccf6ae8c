"""Permission rules as Crossbar applies them, evaluated in Python for the dynamic authorizer.

The rules come from a role in .crossbar/config.json (the `anonymous` role is the public surface),
so a signed-in `user` gets exactly the public rules plus its own private topics, and the rules
live in one place. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.bridge.tickets import SUB_PATTERN
from switchboard.router import settings as S
from switchboard.router.services.uri_rules import UriRules, starred

#: The role whose permissions a signed-in user also has (the public surface).
PUBLIC_ROLE = "anonymous"
#: A signed-in user may subscribe to topics under this prefix + its authid + ".".
PRIVATE_PREFIX = "user."


@dataclass(frozen=True)
class Decision:
    allow: bool
    disclose: bool = False
    #: Crossbar 26.10.1 caches a dynamic decision per (realm, authrole, uri, action), NOT per session:
    #: only decisions that are the same for every session of the role may be cached.
    cache: bool = True

    def as_wamp(self) -> dict:
        return {"allow": self.allow, "disclose": self.disclose, "cache": self.cache}


DENY = Decision(False)
#: For URIs under the private prefix the answer depends on the authid: never cached.
PRIVATE_ALLOW = Decision(True, cache=False)
PRIVATE_DENY = Decision(False, cache=False)


class Rules:
    """A role's permissions, matched as Crossbar does (router/services/uri_rules.py)."""

    def __init__(self, permissions: list[dict]):
        self._rules = UriRules((*starred(p["uri"], p.get("match")), p) for p in permissions)

    def rule_for(self, uri: str) -> dict | None:
        return self._rules.lookup(uri)

    def decide(self, uri: str, action: str) -> Decision:
        rule = self.rule_for(uri)
        if rule is None or not rule.get("allow", {}).get(action, False):
            return DENY
        disclose = rule.get("disclose", {}).get("caller" if action == "call" else "publisher", False)
        return Decision(True, disclose)


def private_prefix(authid) -> str | None:
    """`user.<authid>.`, or None for an authid that is not one plain URI component (it owns no topics:
    authid "1.notes" must not get `user.1.notes.…` of user "1")."""
    if not isinstance(authid, str) or not SUB_PATTERN.fullmatch(authid):
        return None
    return f"{PRIVATE_PREFIX}{authid}."


def decide_for_user(rules: Rules, authid: str, uri: str, action: str, match: str | None = None) -> Decision:
    """Public rules, plus subscribe on the user's own `user.<authid>.` topics (exact or prefix)."""
    own = private_prefix(authid)
    if own and action == "subscribe" and match in (None, "exact", "prefix") and uri.startswith(own):
        return PRIVATE_ALLOW
    if match == "wildcard" or uri.startswith(PRIVATE_PREFIX) or PRIVATE_PREFIX.startswith(uri):
        return PRIVATE_DENY  # could reach other users' topics (a wildcard, "user." itself, "us" as prefix)
    return rules.decide(uri, action)


def public_rules(config: dict | None = None) -> Rules:
    """The rules of the public role in the node config."""
    config = S.load_config() if config is None else config
    roles = S.router_worker(config)["realms"][0]["roles"]
    return Rules(next(r for r in roles if r["name"] == PUBLIC_ROLE)["permissions"])

"""Bound the router's cache of authorization decisions.

Crossbar's router caches each decision under (realm, role, URI, action) and never forgets one: the
public role's prefix rules (`chat.room.`, `public.`) and its default deny are cacheable, so one
anonymous client subscribing to `chat.room.<random>` or calling `x.<random>` added an entry per URI
for as long as the router ran. Here each realm's router gets a cache that keeps at most
SWITCHBOARD_AUTHORIZATION_CACHE decisions (bridge/limits.py) and evicts the oldest first; an evicted
decision is made again from the rules on its URI's next use.
"""

from __future__ import annotations

import functools

from switchboard.bridge import limits
from switchboard.router import settings as S
from switchboard.router.patches.workerproc import in_crossbar_worker

_installed = False


class BoundedCache(dict):
    """A dict of at most `max_entries` items; adding one more drops the oldest inserted."""

    def __init__(self, max_entries: int):
        super().__init__()
        self.max_entries = max_entries

    def __setitem__(self, key, value) -> None:
        if key not in self and len(self) >= self.max_entries:
            del self[next(iter(self))]
        super().__setitem__(key, value)


def install(force: bool = False) -> bool:
    """In a Crossbar worker (or with `force`), give every realm router a bounded authorization cache."""
    global _installed
    if _installed:
        return True
    if not (force or in_crossbar_worker()) or not S.guards_on():
        return False
    from crossbar.router.router import Router

    size = int(limits.value("authorization_cache"))
    stock_attach = Router.attach

    @functools.wraps(stock_attach)  # Crossbar logs this method's name with every session it attaches
    def attach(self, session):
        """Crossbar's attach, with the realm's cache made bounded at its first session (the realm's
        router may exist before this module is installed)."""
        cache = self._authorization_cache
        if type(cache) is not BoundedCache:
            bounded = self._authorization_cache = BoundedCache(size)
            for key, value in cache.items():
                bounded[key] = value
        return stock_attach(self, session)

    Router.attach = attach
    _installed = True
    return True

"""Lazy log arguments for Crossbar and Autobahn: format a highlighted value only if its message is logged.

Crossbar and Autobahn pass coloured values (`hl`, `hlval`, `hltype`, … built with click.style, and
`pprint.pformat`) to debug and trace log calls on every WAMP message they route. Python evaluates
those arguments before the logger drops the message, so at the default level the router spends about
a third of its CPU in fan-out, and a fifth in RPC, colouring strings nobody sees (py-spy; the numbers
are in docs/benchmarks.md). `install()` rebinds those helpers, in the Crossbar and Autobahn modules
that call them, to versions that return a `Lazy` value: the same text, built only when a log
observer formats the message. It changes nothing at debug or trace level, where the messages are
emitted anyway, and nothing outside log arguments: the helpers' own modules keep the originals.
"""

from __future__ import annotations

import functools
import pprint
import sys

from switchboard.router import settings as S
from txaio import tx

#: modules whose helpers are made lazy where other modules import them (the modules themselves keep theirs)
HELPER_MODULES = {
    "autobahn.util": ("hl", "hltype", "hlid", "hluserid", "hlval", "hlcontract"),
    "crossbar._util": ("hl", "hltype", "hlflag", "hlid", "hlval", "hluserid", "hlfixme", "hlcontract"),
}
#: packages whose modules get the lazy helpers
PATCHED_PACKAGES = ("autobahn.", "crossbar.")
#: at these levels the messages are emitted: nothing to save
VERBOSE_LEVELS = ("debug", "trace")


class Lazy:
    """A log argument computed on first use as text (format, str, repr, concatenation)."""

    __slots__ = ("_fn", "_args", "_kwargs", "_text")

    def __init__(self, fn, args, kwargs):
        self._fn, self._args, self._kwargs, self._text = fn, args, kwargs, None

    def __str__(self) -> str:
        if self._text is None:
            self._text = str(self._fn(*self._args, **self._kwargs))
        return self._text

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __add__(self, other):
        return str(self) + other

    def __radd__(self, other):
        return other + str(self)


def lazy(fn):
    """`fn`, returning a Lazy of its result instead of the result."""

    @functools.wraps(fn)
    def deferred(*args, **kwargs):
        return Lazy(fn, args, kwargs)

    deferred.__switchboard_lazy__ = fn
    return deferred


def _originals() -> dict[int, object]:
    found: dict[int, object] = {id(pprint.pformat): pprint.pformat}
    for module_name, names in HELPER_MODULES.items():
        module = sys.modules.get(module_name)
        for name in names:
            fn = getattr(module, name, None)
            if fn is not None:
                found[id(fn)] = fn
    return found


def install(level: str | None = None) -> int:
    """Make the helpers lazy in every loaded Crossbar and Autobahn module (not at debug or trace level,
    nor with SWITCHBOARD_LAZY_LOG_ARGS=0).
    Returns how many module attributes were rebound; calling it again rebinds what was loaded since."""
    level = level or tx.get_global_log_level()
    if level in VERBOSE_LEVELS or not S.runtime().lazy_log_args:
        return 0
    originals = _originals()
    wrapped = {key: lazy(fn) for key, fn in originals.items()}
    count = 0
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith(PATCHED_PACKAGES) or module_name in HELPER_MODULES:
            continue
        for name, value in list(vars(module).items()):
            if callable(value) and id(value) in originals and originals[id(value)] is value:
                setattr(module, name, wrapped[id(value)])
                count += 1
    return count

"""Procedures Django implements for WAMP callers: `@procedure("greet")` answers calls to `django.greet`.

The hub turns each call into a signed POST to `rpc/<name>/` (docs/http-bridge.md, "WAMP into
Django"); the view looks the name up here and passes a `Call` describing who called.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

#: Names the hub forwards (router/services/django_link.py): django.<name>.
NAME = re.compile(r"[a-z0-9_][a-z0-9_.-]{0,99}")
PREFIX = "django."
#: The role the hub gives sessions that signed in with a Django ticket.
USER_ROLE = "user"

_registry: dict[str, Callable[..., Any]] = {}


class RPCError(Exception):
    """Raise in a procedure to answer the WAMP caller with this error: `RPCError("app.error.x", "why", k=1)`."""

    status = 422

    def __init__(self, uri: str, *args: Any, **kwargs: Any):
        if not isinstance(uri, str) or not uri:
            raise TypeError("RPCError needs an error URI string first, e.g. 'app.error.not_found'")
        super().__init__(uri, *args)
        self.uri, self.error_args, self.error_kwargs = uri, list(args), dict(kwargs)

    def body(self) -> dict:
        return {"error": self.uri, "args": self.error_args, "kwargs": self.error_kwargs}


@dataclass
class Call:
    """Who called and how: `caller` is the hub's {"session", "authid", "authrole"} (None when not disclosed)."""

    procedure: str
    caller: dict = field(default_factory=dict)
    request: Any = None

    @property
    def authid(self) -> str | None:
        return self.caller.get("authid")

    @property
    def authrole(self) -> str | None:
        return self.caller.get("authrole")

    @property
    def session(self) -> int | None:
        return self.caller.get("session")

    @cached_property
    def user(self) -> Any:
        """The Django user of a signed-in caller (role "user"), else AnonymousUser."""
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import AnonymousUser
        from django.core.exceptions import ValidationError

        if self.authrole != USER_ROLE or not self.authid:
            return AnonymousUser()
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(self.authid)
            user = model._default_manager.get(pk=pk)
        except (model.DoesNotExist, ValidationError, ValueError, TypeError):
            return AnonymousUser()
        return user if getattr(user, "is_active", True) else AnonymousUser()


def procedure(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn(call, *args, **kwargs)` as `django.<name>`; its return value (JSON) is the result."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"procedure name {name!r} must match {NAME.pattern} (the part after 'django.')")

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        existing = _registry.get(name)
        if existing is not None and _qualified(existing) != _qualified(fn):
            raise ValueError(f"procedure {name!r} is already registered by {_qualified(existing)}")
        _registry[name] = fn
        return fn

    return register


def _qualified(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def lookup(name: str) -> Callable[..., Any] | None:
    return _registry.get(name)


def registered() -> dict[str, Callable[..., Any]]:
    """Name -> function of every registered procedure (a copy)."""
    return dict(_registry)


def unregister(name: str) -> None:
    _registry.pop(name, None)

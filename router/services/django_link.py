"""WAMP into Django: forwarded topics become signed POSTs to Django, `django.<name>` calls run Django views.

A router component, active when SWITCHBOARD_DJANGO_URL is set. Requests are signed with the HTTP
bridge's key and secret (switchboard.bridge.signing), so Django verifies them with the same Verifier the hub
uses. Contract: docs/http-bridge.md, "WAMP into Django".
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import treq
from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import RegisterOptions, SubscribeOptions
from switchboard.bridge import protocol as P
from switchboard.bridge.retry import backoff
from switchboard.bridge.signing import sign_request
from switchboard.router import settings as S
from switchboard.router.services.session import QuietApplicationErrors
from twisted.internet import reactor
from twisted.internet.defer import DeferredLock, ensureDeferred
from twisted.internet.error import TimeoutError as TxTimeoutError
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.web.client import HTTPConnectionPool, ResponseNeverReceived

log = Logger()

PROCEDURE_PREFIX = "django."
#: Seconds a Django view may take to answer a call or accept an event.
DJANGO_TIMEOUT = 10.0
#: Tries for a forwarded event before it is logged and dropped, and the first backoff (doubling).
FORWARD_TRIES = 3
FORWARD_BACKOFF = 0.2
_NAME = re.compile(r"[a-z0-9_][a-z0-9_.-]{0,99}")


def caller_of(details) -> dict:
    return {"session": details.caller, "authid": details.caller_authid, "authrole": details.caller_authrole}


class DjangoLink(QuietApplicationErrors, ApplicationSession):
    """Registers the `django.` procedure prefix and subscribes to the forwarded topics."""

    async def onJoin(self, details):
        self._base = S.runtime().django_url
        if not self._base:
            log.info("WAMP into Django is off ({env} is not set)", env=S.ENV_DJANGO_URL)
            return
        self._key, self._secret = S.runtime().bridge_key, S.runtime().bridge_secret
        self._pool = HTTPConnectionPool(reactor, persistent=True)
        self._forwarding = DeferredLock()  # one event at a time, so Django sees them in order
        await self.register(
            self.call_django, PROCEDURE_PREFIX, options=RegisterOptions(match="prefix", details_arg="details")
        )
        for prefix in S.runtime().forward_topics:
            await self.subscribe(
                self.forward_event, prefix, options=SubscribeOptions(match="prefix", details_arg="details")
            )
        log.info(
            "WAMP into Django: {base} (procedures {prefix}*, topics {topics})",
            base=self._base,
            prefix=PROCEDURE_PREFIX,
            topics=", ".join(S.runtime().forward_topics),
        )

    def _post(self, path_suffix: str, payload: dict):
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        url = f"{self._base}/{path_suffix}"
        path = urlsplit(url).path
        headers = {"Content-Type": "application/json", **sign_request(self._key, self._secret, "POST", path, body)}
        return treq.post(url, data=body, headers=headers, timeout=DJANGO_TIMEOUT, pool=self._pool)

    async def call_django(self, *args, details=None, **kwargs):
        name = details.procedure[len(PROCEDURE_PREFIX) :]
        if not _NAME.fullmatch(name):
            raise ApplicationError("wamp.error.no_such_procedure", f"no Django procedure {name!r}")
        payload = {"procedure": details.procedure, "args": list(args), "kwargs": kwargs, "caller": caller_of(details)}
        try:
            response = await self._post(f"rpc/{name}/", payload)
            content = await response.content()
        except (TxTimeoutError, ResponseNeverReceived) as e:
            if isinstance(e, TxTimeoutError):
                raise ApplicationError(P.TIMEOUT, f"Django did not answer within {DJANGO_TIMEOUT:g}s") from None
            raise ApplicationError(P.UNAVAILABLE, "Django closed the connection") from None
        except Exception as e:  # connection refused, DNS, ...
            raise ApplicationError(P.UNAVAILABLE, f"Django is unreachable: {e.__class__.__name__}") from None
        try:
            body = json.loads(content or b"{}")
        except ValueError:
            body = {}
        if response.code == 200 and isinstance(body, dict) and "result" in body:
            return body["result"]
        if response.code == 404:
            raise ApplicationError("wamp.error.no_such_procedure", f"Django has no procedure {name!r}")
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            raise ApplicationError(body["error"], *(body.get("args") or []), **(body.get("kwargs") or {}))
        raise ApplicationError("switchboard.error.django_error", f"Django answered HTTP {response.code}")

    def forward_event(self, *args, details=None, **kwargs):
        return self._forwarding.run(lambda: ensureDeferred(self._forward(args, kwargs, details)))

    async def _forward(self, args, kwargs, details):
        payload = {
            "topic": details.topic,
            "args": list(args),
            "kwargs": kwargs,
            "publisher": {
                "session": details.publisher,
                "authid": details.publisher_authid,
                "authrole": details.publisher_authrole,
            },
        }
        for attempt in range(1, FORWARD_TRIES + 1):
            try:
                response = await self._post("events/", payload)
                await response.content()
                if 200 <= response.code < 300:
                    return
                problem = f"HTTP {response.code}"
            except Exception as e:
                problem = e.__class__.__name__
            if attempt < FORWARD_TRIES:
                await deferLater(reactor, backoff(attempt - 1, FORWARD_BACKOFF), lambda: None)
        log.warn(
            "dropped event on {topic} for Django after {tries} tries ({problem})",
            topic=details.topic,
            tries=FORWARD_TRIES,
            problem=problem,
        )

"""Django's side of the hub: browser tickets, forwarded events and procedure calls, and the
outbox's metrics.

`events/` and `rpc/<name>/` are called by the hub, not by browsers: they are exempt from CSRF and
accept only requests carrying a valid bridge signature (else 401).
"""

from __future__ import annotations

import hmac
import inspect
import json
import logging
import time
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from switchboard.bridge import tickets
from switchboard.bridge.django import rpc, verification
from switchboard.bridge.django.conf import switchboard
from switchboard.bridge.django.signals import HUB, event_received
from switchboard.bridge.signing import SignatureError
from switchboard.bridge.uris import (
    BAD_REQUEST,
    INVALID_AUTHID,
    METHOD_NOT_ALLOWED,
    NO_SUCH_PROCEDURE,
    RUNTIME_ERROR,
    UNAUTHORIZED,
)
from switchboard.bridge.uris import WAMP_INVALID_ARGUMENT as INVALID_ARGUMENT
from switchboard.bridge.uris import (
    WAMP_NOT_AUTHORIZED as NOT_AUTHORIZED,
)

log = logging.getLogger("switchboard.bridge.django.views")


def _error(status: int, uri: str, *args: Any, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": uri, "args": list(args), "kwargs": {}, **extra}, status=status)


def _no_store(response: JsonResponse) -> JsonResponse:
    response["Cache-Control"] = "no-store"
    return response


def ticket(request: HttpRequest) -> JsonResponse:
    """A fresh single-use ticket for the signed-in user ({"ticket", "authid", "expires"}), or {"ticket": null}.

    The page asks on every (re)connect: the router accepts each ticket once and for TICKET_TTL seconds.
    A user whose pk is not one URI component (1-64 of A-Za-z0-9_-) gets 422 invalid_authid, not a 500.
    """
    if request.method not in ("GET", "HEAD"):
        return _no_store(_error(405, METHOD_NOT_ALLOWED, "use GET"))
    user = request.user
    if not (user.is_authenticated and getattr(user, "is_active", True)):
        return _no_store(JsonResponse({"ticket": None}))
    cfg = switchboard()
    authid, now = str(user.pk), time.time()
    try:
        value = tickets.mint(cfg.require_ticket_secret(), authid, ttl=cfg.ticket_ttl, now=now)
    except tickets.TicketError as e:  # the site's user model, not this request: say so, never a 500
        log.warning("no hub ticket for user pk %r: %s", authid[:80], e)
        return _no_store(_error(422, INVALID_AUTHID, f"this user's pk cannot be a hub authid: {e}"))
    response = _no_store(JsonResponse({"ticket": value, "authid": authid, "expires": int(now + cfg.ticket_ttl)}))
    response["Vary"] = "Cookie"
    return response


def dashboard(request: HttpRequest) -> HttpResponse:
    """Staff users to the hub's admin dashboard, signed in: a redirect to its page with a fresh
    single-use ticket with role admin in the URL fragment (bridge/tickets.py, dashboard_link). Anyone
    signed out goes to the login page first; a signed-in user who is not active staff gets 403."""
    if request.method not in ("GET", "HEAD"):
        return _no_store(_error(405, METHOD_NOT_ALLOWED, "use GET"))
    user = request.user
    if not user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    if not (getattr(user, "is_staff", False) and getattr(user, "is_active", True)):
        return _no_store(_error(403, NOT_AUTHORIZED, "the hub's dashboard is for staff users"))
    cfg = switchboard()
    authid = str(user.pk)
    try:
        value = tickets.mint(cfg.require_ticket_secret(), authid, ttl=cfg.ticket_ttl, role=tickets.ADMIN_ROLE)
    except tickets.TicketError as e:
        log.warning("no hub dashboard ticket for user pk %r: %s", authid[:80], e)
        return _no_store(_error(422, INVALID_AUTHID, f"this user's pk cannot be a hub authid: {e}"))
    log.info("staff user pk %r signed in to the hub's dashboard", authid)
    response = HttpResponseRedirect(tickets.dashboard_link(cfg.hub_http_url, value))
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _signed_json(request: HttpRequest) -> dict | JsonResponse:
    """The JSON body of a signed POST from the hub, or the error response to send instead."""
    if request.method != "POST":
        return _error(405, METHOD_NOT_ALLOWED, "use POST")
    try:
        verification.verify(request)
    except SignatureError as e:
        log.warning("refused a request to %s: %s (%s)", request.path, e, e.reason)
        return JsonResponse({"error": UNAUTHORIZED, "reason": e.reason, "message": str(e)}, status=401)
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as e:
        return _error(400, BAD_REQUEST, f"body is not valid JSON: {e}")
    if not isinstance(data, dict):
        return _error(400, BAD_REQUEST, "body must be a JSON object")
    args, kwargs = data.get("args") or [], data.get("kwargs") or {}
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        return _error(400, BAD_REQUEST, "args must be a list and kwargs an object")
    return data


@csrf_exempt
def events(request: HttpRequest) -> JsonResponse:
    """An event on a forwarded topic: send `event_received` to the receivers."""
    data = _signed_json(request)
    if isinstance(data, JsonResponse):
        return data
    topic = data.get("topic")
    if not isinstance(topic, str) or not topic:
        return _error(400, BAD_REQUEST, "topic must be a non-empty string")
    publisher = data.get("publisher") if isinstance(data.get("publisher"), dict) else {}
    # One transaction for all receivers: if one raises, none of their writes stay, and the hub retries.
    with transaction.atomic():
        event_received.send(
            sender=HUB, topic=topic, args=data.get("args") or [], kwargs=data.get("kwargs") or {}, publisher=publisher
        )
    return JsonResponse({"received": True})


@csrf_exempt
def call(request: HttpRequest, name: str) -> JsonResponse:
    """A WAMP call to django.<name>: run the registered procedure in a transaction, answer its result."""
    data = _signed_json(request)
    if isinstance(data, JsonResponse):
        return data
    fn = rpc.lookup(name)
    if fn is None:
        return _error(404, NO_SUCH_PROCEDURE, f"Django has no procedure {name!r}")
    args, kwargs = data.get("args") or [], data.get("kwargs") or {}
    caller = data.get("caller") if isinstance(data.get("caller"), dict) else {}
    details = rpc.Call(procedure=data.get("procedure") or f"{rpc.PREFIX}{name}", caller=caller, request=request)
    try:
        inspect.signature(fn).bind(details, *args, **kwargs)
    except TypeError as e:
        return _error(400, INVALID_ARGUMENT, f"{rpc.PREFIX}{name}: {e}")
    try:
        with transaction.atomic():  # an error rolls back what the procedure wrote (and published)
            result = fn(details, *args, **kwargs)
            try:
                body = json.dumps({"result": result}, cls=DjangoJSONEncoder, allow_nan=False)
            except (TypeError, ValueError) as e:
                raise _NotJSON(str(e)) from e
    except rpc.RPCError as e:
        return JsonResponse(e.body(), status=e.status, encoder=DjangoJSONEncoder)
    except _NotJSON as e:
        log.error("procedure %s returned a value JSON cannot carry: %s", name, e)
        return _error(500, RUNTIME_ERROR, f"{rpc.PREFIX}{name} returned a value that is not JSON: {e}")
    except Exception:
        log.exception("procedure %s failed", name)
        return _error(500, RUNTIME_ERROR, f"{rpc.PREFIX}{name} failed (see the Django log)")
    return HttpResponse(body, content_type="application/json")


class _NotJSON(Exception):
    pass


def metrics(request: HttpRequest) -> HttpResponse:
    """The outbox in Prometheus text format, for staff users and for a scraper sending
    `Authorization: Bearer <SWITCHBOARD["METRICS_TOKEN"]>`: pending events, the age of the oldest,
    and how many the hub refused (docs/operations.md)."""
    if request.method not in ("GET", "HEAD"):
        return _error(405, METHOD_NOT_ALLOWED, "use GET")
    token = switchboard().metrics_token
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    by_token = bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)
    if not by_token and not getattr(request.user, "is_staff", False):
        return _error(403, NOT_AUTHORIZED, "staff users, or Authorization: Bearer <SWITCHBOARD['METRICS_TOKEN']>")
    from prometheus_client import CollectorRegistry, Gauge
    from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
    from switchboard.bridge.django.models import OutboxEvent

    state = OutboxEvent.objects.state(timezone.now())
    registry = CollectorRegistry()
    Gauge("switchboard_outbox_pending", "Outbox events not yet delivered to the hub", registry=registry).set(
        state.pending
    )
    Gauge(
        "switchboard_outbox_oldest_pending_age_seconds",
        "Age of the oldest undelivered outbox event (0 when none is pending)",
        registry=registry,
    ).set(state.oldest_age or 0.0)
    Gauge(
        "switchboard_outbox_refused",
        "Undelivered outbox events the hub refused, to be offered again",
        registry=registry,
    ).set(state.refused)
    response = HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response

"""The CLI's commands against a running hub: publish, call, subscribe, ticket, status.

They use the secrets the hub generated (its hub directory's secrets.env, or the environment) and the
hub's own clients: publish and call go through the HTTP bridge (switchboard.bridge.client, signed with
the bridge key, so they do what Django's publishes and calls do), subscribe and status through a
backend WAMP session on the loopback RawSocket transport (switchboard.router.client), status's rates
from two reads of the hub's /metrics, and ticket signs locally. Every failure ends the command with
one line on stderr naming the problem and an exit code a script can test (EXIT_* below); the CLI
(router/node/cli.py) only parses and prints.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

from switchboard.bridge import errors, uris
from switchboard.router import settings as S
from switchboard.router.node.secrets import SecretsMissing, read_secrets

EXIT_OK = 0
#: the hub answered and refused: not authorized, no such procedure, an application error, a timeout
EXIT_REFUSED = 1
#: the command line is wrong: bad JSON, a value the hub's rules refuse (argparse's code for usage errors)
EXIT_USAGE = 2
#: no hub answered at the URL, or this directory has no hub secrets
EXIT_UNAVAILABLE = 3
#: seconds a publish waits for the hub, and a call's default --timeout
DEFAULT_TIMEOUT = 10.0
#: seconds between the two reads of /metrics whose difference `status` gives as rates
DEFAULT_INTERVAL = 1.0


class CommandError(Exception):
    """Ends the command with `code` and `str(self)` as one line on stderr."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


# --- reading the command line -------------------------------------------------------------------
def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number the hub carries")


def json_value(text: str, what: str) -> Any:
    """One command-line word read as JSON; a word that is not JSON is a usage error naming it."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise CommandError(f"{what} is nested too deep", EXIT_USAGE) from None
    except ValueError as e:
        hint = f" (a string is quoted: '\"{text}\"')" if text[:1] not in '[{"' else ""
        raise CommandError(f"{what} is not JSON: {e}{hint}", EXIT_USAGE) from None


def json_args(words: list[str]) -> list:
    return [json_value(word, f"argument {i} ({word!r:.40})") for i, word in enumerate(words, 1)]


def json_kwargs(text: str | None) -> dict:
    if text is None:
        return {}
    value = json_value(text, "--kwargs")
    if not isinstance(value, dict):
        raise CommandError(f"--kwargs must be a JSON object, not {type(value).__name__}", EXIT_USAGE)
    return value


# --- the hub's credentials ----------------------------------------------------------------------
def _secret(settings: S.Settings, name: str) -> str:
    try:
        return read_secrets(settings.secrets_file)[name]
    except SecretsMissing as e:
        raise CommandError(str(e), EXIT_UNAVAILABLE) from None
    except (OSError, UnicodeDecodeError) as e:
        raise CommandError(f"cannot read {settings.secrets_file}: {e}", EXIT_UNAVAILABLE) from None


def _bridge(settings: S.Settings, url: str | None, timeout: float):
    from switchboard.bridge.client import HubClient

    secret = _secret(settings, S.ENV_BRIDGE_SECRET)
    try:
        return HubClient(url or settings.bridge_url, S.runtime().bridge_key, secret, timeout=timeout, retries=0)
    except (TypeError, ValueError) as e:
        raise CommandError(f"--url: {e}", EXIT_USAGE) from None


def _refusal(e: errors.SwitchboardError) -> CommandError:
    if isinstance(e, errors.HubUnavailable):
        return CommandError(f"hub unavailable: {e.message}", EXIT_UNAVAILABLE)
    if isinstance(e, errors.BadRequest):
        return CommandError(f"refused: {e.message}", EXIT_USAGE)
    return CommandError(e.message, EXIT_REFUSED)


def backend_session(settings: S.Settings, url: str | None):
    """A backend WAMP session (the role components have), to use as a context manager."""
    from autobahn.wamp.exception import ApplicationError
    from switchboard.router.client import Client, JoinError

    secret = _secret(settings, S.ENV_BACKEND_SECRET)
    url = url or settings.backend_url
    try:
        return Client(url, settings.realm, authid=S.BACKEND_AUTHID, secret=secret)
    except (JoinError, ApplicationError) as e:
        raise CommandError(f"the hub at {url} refused the backend session: {e}", EXIT_REFUSED) from None
    except (OSError, TimeoutError) as e:
        raise CommandError(f"hub unavailable at {url}: {e or type(e).__name__}", EXIT_UNAVAILABLE) from None
    except ValueError as e:  # not an rs:// or ws:// URL, or a port out of range
        raise CommandError(f"--url {url!r}: {e}", EXIT_USAGE) from None


def _wamp_failure(e: Exception) -> CommandError:
    """A failure of a call or subscribe on the backend session, as one line and an exit code."""
    from autobahn.wamp.exception import ApplicationError

    if isinstance(e, ApplicationError):
        code = EXIT_USAGE if e.error in (uris.INVALID_ARGUMENT, uris.WAMP_INVALID_ARGUMENT) else EXIT_REFUSED
        return CommandError(f"{e.error}: {e.args[0] if e.args else ''}".rstrip(": "), code)
    return CommandError(f"the hub stopped answering: {e or type(e).__name__}", EXIT_UNAVAILABLE)


#: what a WAMP request on the backend session may fail with (besides a refusal, ApplicationError)
_WAMP_FAILURES = (TimeoutError, OSError, ConnectionError)


def _through_bridge(settings: S.Settings, url: str | None, timeout: float, request):
    """`request(hub)` on a bridge client, its failures as CommandErrors."""
    try:
        with _bridge(settings, url, timeout) as hub:
            return request(hub)
    except errors.SwitchboardError as e:
        raise _refusal(e) from None
    except (TypeError, ValueError) as e:  # a value JSON or the hub cannot carry, refused before sending
        raise CommandError(f"refused: {e}", EXIT_USAGE) from None


# --- the commands -------------------------------------------------------------------------------
def publish(settings: S.Settings, topic: str, args: list, kwargs: dict, *, retain: bool, url: str | None) -> dict:
    """Publish one event through the bridge: {"id", "duplicate"}."""
    options = {"retain": True} if retain else None
    result = _through_bridge(
        settings, url, DEFAULT_TIMEOUT, lambda hub: hub.publish_event(topic, args, kwargs, options=options)
    )
    return {"id": result.id, "duplicate": result.duplicate}


def call(settings: S.Settings, procedure: str, args: list, kwargs: dict, *, timeout: float, url: str | None) -> Any:
    """Call a procedure through the bridge: its one value, or {"args", "kwargs"}."""
    from switchboard.bridge.client import CallResult

    result = _through_bridge(
        settings, url, timeout, lambda hub: hub.call_with(procedure, args, kwargs, timeout=timeout)
    )
    if isinstance(result, CallResult):
        return {"args": result.args, "kwargs": result.kwargs}
    return result


def subscribe(settings: S.Settings, topic: str, *, match: str, history: int, url: str | None) -> Iterator[dict]:
    """The `history` newest stored events of `topic`, then every event as it arrives, as dicts; runs
    until the caller stops iterating or the hub closes the session.

    It subscribes before reading the history, so no event falls between the two; an event both
    returns is given once (the history's copy)."""
    import queue

    from autobahn.wamp.exception import ApplicationError

    client = backend_session(settings, url)
    with client:
        try:
            subscription = client.subscribe(topic, match=None if match == "exact" else match)
            stored = client.call("history.get", topic, limit=history)["events"] if history else []
        except (ApplicationError, *_WAMP_FAILURES) as e:
            raise _wamp_failure(e) from None
        early = set()  # events of the history that the subscription may deliver again
        for event in stored:
            early.add(event["publication"])
            yield _event_line(event["topic"], event["args"], event["kwargs"], event["publication"], False, True)
        while client.is_connected:
            try:
                event = subscription.get(timeout=1.0)
            except queue.Empty:  # look again whether the session is still there
                continue
            if event.publication in early:
                early.discard(event.publication)
                continue
            yield _event_line(
                event.topic or topic, list(event.args), event.kwargs, event.publication, event.retained, False
            )
        raise CommandError("the hub closed the session", EXIT_UNAVAILABLE)


def _event_line(topic: str, args: list, kwargs: dict, publication, retained: bool, history: bool) -> dict:
    """One line `subscribe` prints: the same keys for a stored event and a live one."""
    return {
        "topic": topic,
        "args": args,
        "kwargs": kwargs,
        "publication": publication,
        "retained": retained,
        "history": history,
    }


def ticket(settings: S.Settings, user: str, *, ttl: float, role: str = "user") -> dict:
    """A sign-in ticket for `user` with `role`, signed with the hub's ticket secret: {"ticket", "user",
    "role", "expires"}, and for role admin the dashboard's URL that signs in with it ("url")."""
    from switchboard.bridge import tickets

    secret = _secret(settings, S.ENV_TICKET_SECRET)
    now = time.time()
    try:
        token = tickets.mint(secret, user, ttl=ttl, now=now, role=role)
    except (tickets.TicketError, ValueError) as e:
        raise CommandError(str(e), EXIT_USAGE) from None
    answer = {"ticket": token, "user": user, "role": role, "expires": int(now + ttl)}
    if role == tickets.ADMIN_ROLE:
        answer["url"] = tickets.dashboard_link(settings.http_url, token)
    return answer


def status(settings: S.Settings, *, url: str | None, interval: float = DEFAULT_INTERVAL) -> dict:
    """What the hub holds now: readiness, sessions by role, topics and registrations, and its rates
    over `interval` seconds (from two reads of /metrics; 0: none)."""

    from autobahn.wamp.exception import ApplicationError

    config = _config(settings)
    rates = hub_rates(settings, interval) if interval > 0 else None  # before this command's own calls
    with backend_session(settings, url) as c:
        try:
            found = _status(c, settings, config, url)
        except (ApplicationError, *_WAMP_FAILURES) as e:
            raise _wamp_failure(e) from None
    found["rates"] = rates
    return found


#: rates `status` gives: name -> (metric sample, labels that must match), per second
RATES = {
    "messages_in": ("switchboard_messages_received_total", {}),
    "messages_out": ("switchboard_messages_sent_total", {}),
    "deliveries": ("switchboard_messages_sent_total", {"type": "event"}),
    "calls": ("switchboard_calls_total", {}),
    "bridge_requests": ("switchboard_bridge_request_duration_seconds_count", {}),
    "bytes_out": ("switchboard_bytes_sent_total", {}),
}


def read_metrics(settings: S.Settings) -> dict[str, list[tuple[dict, float]]]:
    """The hub's /metrics as {sample name: [(labels, value)]}; OSError, or ValueError for an answer
    that is not Prometheus text, names what went wrong."""
    import urllib.error
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    request = urllib.request.Request(settings.metrics_url)
    token = S.runtime().metrics_token
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=DEFAULT_TIMEOUT) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as e:
        raise OSError(f"{settings.metrics_url} answered {e.code}") from None
    samples: dict[str, list[tuple[dict, float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def rates_between(before: dict, after: dict, seconds: float) -> dict[str, float]:
    """Each of RATES per second between two reads of /metrics; a counter that went back (the router
    restarted in between) counts from 0."""

    def total(samples, name, labels):
        return sum(v for found, v in samples.get(name, ()) if labels.items() <= found.items())

    rates = {}
    for rate, (name, labels) in RATES.items():
        start, end = total(before, name, labels), total(after, name, labels)
        rates[rate] = round((end - start if end >= start else end) / seconds, 2)
    return rates


def hub_rates(settings: S.Settings, interval: float) -> dict:
    """{"interval": s, "messages_in": n/s, ...}, or {"error": why} when /metrics cannot be read
    (the rest of status does not need it)."""
    try:
        before, began = read_metrics(settings), time.monotonic()
        time.sleep(interval)  # the interval the rates are measured over, not synchronisation
        after, seconds = read_metrics(settings), time.monotonic() - began
    except (OSError, ValueError) as e:
        return {"error": f"cannot read {settings.metrics_url}: {e}"}
    return {"interval": round(seconds, 3), **rates_between(before, after, seconds)}


def _status(c, settings: S.Settings, config: dict, url: str | None) -> dict:
    from switchboard.router.node.process import ready_components

    roles = [r["name"] for r in S.router_worker(config)["realms"][0]["roles"]]
    sessions = {role: c.call("wamp.session.count", [role]) for role in roles}
    sessions[S.BACKEND_ROLE] -= 1  # this command's own session
    ready, expected = ready_components(c.call), S.container_components(config)
    return {
        "url": url or settings.backend_url,
        "realm": settings.realm,
        "ready": ready >= expected,
        "components": {"ready": ready, "expected": expected},
        "sessions": {"total": c.call("wamp.session.count") - 1, "by_role": sessions},
        "topics": _listed(c, "subscription", "subscribers"),
        "registrations": _listed(c, "registration", "callees"),
    }


def _config(settings: S.Settings) -> dict:
    """The config the hub runs: the one it rendered into its node directory, else the hub's own."""
    rendered = settings.node_dir / "config.json"
    path = rendered if rendered.exists() else settings.config_file
    try:
        return S.load_config(path)
    except (OSError, ValueError) as e:
        raise CommandError(f"cannot read the hub's config {path}: {e}", EXIT_USAGE) from None


def _listed(c, kind: str, members: str) -> list[dict]:
    """Every subscription (or registration) of the realm with its URI, match and member count,
    leaving out the router's own wamp.* ones: one list call, then every lookup in one batch."""
    from autobahn.wamp.exception import ApplicationError

    listed = [(match, id_) for match, ids in c.call(f"wamp.{kind}.list").items() for id_ in ids]
    asked = [(f"wamp.{kind}.{what}", (id_,)) for _, id_ in listed for what in ("get", f"count_{members}")]
    answers = c.call_many(asked)
    found = []
    for (match, _), details, count in zip(listed, answers[::2], answers[1::2]):
        failed = next((a for a in (details, count) if isinstance(a, BaseException)), None)
        if failed is not None:
            if isinstance(failed, ApplicationError) and failed.error.startswith("wamp.error.no_such_"):
                continue  # gone between the list and the lookup
            raise failed
        if not details["uri"].startswith("wamp."):
            found.append({"uri": details["uri"], "match": match, members: count})
    return sorted(found, key=lambda item: (item["uri"], item["match"]))

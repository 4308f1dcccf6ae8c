"""Calls by procedure and outcome, with how long each took from CALL to its answer, kept as plain
integers for /metrics (router/services/metrics.py turns them into families when scraped).

Pure bookkeeping, no I/O and no Crossbar: router/patches/counting.py notes a CALL when the dealer
receives it (`received`) and its answer when the router sends it to the caller (`answered`), with
the URI of the registration that routed it (None when none did: a refusal).

The `procedure` label is bounded, so clients cannot grow the label set: only registration URIs
become labels (a prefix or wildcard registration's own URI, never the URI a client called), the
first `max_procedures` of them (SWITCHBOARD_METRICS_PROCEDURES, bridge/limits.py); later ones and
every refused call count under `other`. Outcomes are a fixed set too (OUTCOMES).
"""

from __future__ import annotations

from bisect import bisect_left

from switchboard.bridge import uris

OTHER = "other"
#: upper bounds (seconds) of the latency histogram's buckets; one more bucket is +Inf
BOUNDS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_BOUNDS_NS = tuple(round(b * 1e9) for b in BOUNDS)
#: a histogram: one count per bucket (the last one +Inf), then the sum of durations in ns
_SUM = len(BOUNDS) + 1

#: a routed call's outcomes: the callee's result, its error, or canceled (timeout, cancel, callee gone)
RESULT, ERROR, CANCELED = "result", "error", "canceled"
#: the dealer's (and the guards') refusals before any callee saw the call, by error URI
REFUSALS = {
    uris.NO_SUCH_PROCEDURE: "no_such_procedure",
    uris.WAMP_NOT_AUTHORIZED: "not_authorized",
    uris.WAMP_AUTHORIZATION_FAILED: "authorization_failed",
    uris.WAMP_INVALID_URI: "invalid_uri",
    uris.WAMP_INVALID_ARGUMENT: "invalid_argument",
    uris.RATE_LIMITED: "rate_limited",
    uris.INVALID_PAYLOAD: "invalid_payload",
    uris.TOO_DEEP: "too_deep",
    "crossbar.error.max_concurrency_reached": "max_concurrency_reached",
}
#: any other refusal URI
REFUSED = "refused"
OUTCOMES = (RESULT, ERROR, CANCELED, *REFUSALS.values(), REFUSED)


def outcome_of_error(error_uri: str, routed: bool) -> str:
    """What an ERROR answering a CALL says: for a routed call the callee's error (or canceled), else
    the refusal's name."""
    if routed:
        return CANCELED if error_uri == uris.CANCELED else ERROR
    return REFUSALS.get(error_uri, REFUSED)


class CallStats:
    """Counts by (procedure label, outcome), a latency histogram by label, and the calls in flight."""

    def __init__(self, max_procedures: int):
        self.max_procedures = max_procedures
        #: the registration URIs that are labels (each its own), at most max_procedures
        self._labels: dict[str, str] = {}
        self.counts: dict[tuple[str, str], int] = {}
        #: label -> bucket counts, then the sum in ns (see _SUM)
        self.histograms: dict[str, list[int]] = {}
        #: (caller session id, request id) -> when the dealer received the CALL (ns, a monotonic clock)
        self.pending: dict[tuple[int, int], int] = {}

    def label(self, registration_uri: str | None) -> str:
        if registration_uri is None:
            return OTHER
        label = self._labels.get(registration_uri)
        if label is not None:
            return label
        if len(self._labels) >= self.max_procedures:
            return OTHER  # not remembered: the map stays as small as the cap
        self._labels[registration_uri] = registration_uri
        return registration_uri

    def received(self, key: tuple[int, int], now_ns: int) -> None:
        self.pending[key] = now_ns

    def answered(self, key: tuple[int, int], registration_uri: str | None, outcome: str, now_ns: int) -> None:
        """The caller got its answer: count it, and time it when a registration routed it."""
        started = self.pending.pop(key, None)
        label = self.label(registration_uri)
        counted = (label, outcome)
        self.counts[counted] = self.counts.get(counted, 0) + 1
        if started is None or registration_uri is None:
            return
        histogram = self.histograms.get(label)
        if histogram is None:
            histogram = self.histograms[label] = [0] * (_SUM + 1)
        took = now_ns - started
        histogram[bisect_left(_BOUNDS_NS, took)] += 1
        histogram[_SUM] += took

    def forget_session(self, session_id: int) -> None:
        """A caller left: its calls in flight get no answer and are no longer timed. (A pass over the
        calls in flight, usually none or a few, per session that leaves.)"""
        if not self.pending:
            return
        for key in [k for k in self.pending if k[0] == session_id]:
            del self.pending[key]

    def buckets(self, label: str) -> tuple[list[tuple[str, int]], float]:
        """A label's cumulative buckets [(le, count)], "+Inf" last, and the sum of durations in seconds,
        as prometheus_client's HistogramMetricFamily takes them."""
        histogram = self.histograms[label]
        cumulative, total = [], 0
        for bound, count in zip((*(repr(b) for b in BOUNDS), "+Inf"), histogram[:_SUM]):
            total += count
            cumulative.append((bound, total))
        return cumulative, histogram[_SUM] / 1e9

"""Which layout serves best on this machine, from what was measured: pure rules, no I/O.

`switchboard run` (SWITCHBOARD_PROXY_WORKERS=auto, the default) starts the hub once per candidate
layout, runs the same loads against each (router/node/layout_measure.py) and keeps the CPU seconds
each of the hub's processes spent. A load generator on the same machine takes CPU the hub would have
in production, so what decides is not the throughput seen but the capacity it implies: a layout
serves at most as many units a second as its busiest process does in one CPU second (one process
runs on one core), and at most as many as all its processes do in `cores` CPU seconds. Proxy
workers split the WebSocket work over cores but add a hop (bench.cluster, docs/scaling.md); they
are chosen only if they raise the capacity by MARGIN over every load taken together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from switchboard.router import settings as S

#: proxies must serve this much more than none (geometric mean over the loads): each costs memory
#: (a process of about 130 MB) and a hop, and the measurement is noisy
MARGIN = 1.10
#: what layout.json's format is; another one is measured again
FORMAT = 1


def candidates(cores: int, most: int = S.MAX_PROXY_WORKERS) -> tuple[int, ...]:
    """Proxy counts worth measuring: none, one per core, and half as many on 4 cores or more (at most
    `most`); on one core only none (there is nothing to spread over)."""
    if cores < 2:
        return (0,)
    counts = {0, min(cores, most)}
    if cores >= 4:
        counts.add(min(cores // 2, most))
    return tuple(sorted(counts))


@dataclass(frozen=True)
class Phase:
    """One load on one layout: `units` (deliveries, calls) done in `seconds`, and the CPU seconds
    each of the hub's processes (by worker id) spent meanwhile."""

    load: str
    units: int
    seconds: float
    cpu: dict[str, float]

    def capacity(self, cores: int) -> float | None:
        """Units a second this layout could serve with the machine to itself; None if nothing ran."""
        busiest, total = max(self.cpu.values(), default=0.0), sum(self.cpu.values())
        if self.units <= 0 or busiest <= 0:
            return None
        return min(self.units / busiest, cores * self.units / total)


@dataclass(frozen=True)
class Choice:
    proxies: int
    #: each candidate's capacity against no proxies (geometric mean over the loads); None: not measured
    scores: dict[int, float | None]
    cores: int


def score(phases: list[Phase], baseline: list[Phase], cores: int) -> float | None:
    """Geometric mean over the loads of a layout's capacity against the baseline's."""
    base = {p.load: p.capacity(cores) for p in baseline}
    ratios = []
    for p in phases:
        mine, theirs = p.capacity(cores), base.get(p.load)
        if not mine or not theirs:
            return None
        ratios.append(mine / theirs)
    return math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else None


def choose(measured: dict[int, list[Phase]], cores: int) -> Choice:
    """The best candidate (proxy count) of `measured`, no proxies unless another beats it by MARGIN."""
    baseline = measured.get(0, [])
    scores = {n: (1.0 if n == 0 else score(phases, baseline, cores)) for n, phases in measured.items()}
    best = max((n for n, s in scores.items() if s is not None and n), key=lambda n: scores[n], default=0)
    return Choice(best if best and scores[best] >= MARGIN else 0, scores, cores)


def describe(proxies: int) -> str:
    return f"{proxies} proxy worker(s) in front of the router" if proxies else "one router worker, no proxies"


def summary(choice: Choice) -> str:
    """What the others measured, for the start line: "on this machine's 2 cores, capacity against no
    proxies: 2 proxies 0.72"."""
    others = ", ".join(
        f"{n} prox{'y' if n == 1 else 'ies'} {'failed' if s is None else f'{s:.2f}'}"
        for n, s in sorted(choice.scores.items())
        if n
    )
    return f"on this machine's {choice.cores} cores, capacity against no proxies: {others}"


def fingerprint(cores: int, processor: str, versions: dict[str, str], tls: bool) -> dict:
    """What a measurement holds for: another machine, release or TLS setting is measured again."""
    return {"format": FORMAT, "cores": cores, "processor": processor, "versions": dict(versions), "tls": tls}


def to_json(choice: Choice, machine: dict, measured: dict[int, list[Phase]], when: str) -> dict:
    return {
        "fingerprint": machine,
        "measured_at": when,
        "proxies": choice.proxies,
        "scores": {str(n): s for n, s in choice.scores.items()},
        "phases": {
            str(n): [{"load": p.load, "units": p.units, "seconds": p.seconds, "cpu": p.cpu} for p in phases]
            for n, phases in measured.items()
        },
    }


def from_json(saved: dict, machine: dict) -> Choice | None:
    """The saved choice if it was measured for `machine` (this machine, release and TLS), else None."""
    try:
        if saved["fingerprint"] != machine:
            return None
        proxies = int(saved["proxies"])
        scores = {int(n): (None if s is None else float(s)) for n, s in saved["scores"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if proxies not in scores or not 0 <= proxies <= S.MAX_PROXY_WORKERS:
        return None
    return Choice(proxies, scores, int(machine["cores"]))

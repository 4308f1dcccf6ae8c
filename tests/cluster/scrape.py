"""A cluster node's /metrics, read as the tests of this folder read it."""

import urllib.request


def metrics(hub) -> str:
    with urllib.request.urlopen(hub.settings.metrics_url, timeout=10) as response:
        return response.read().decode()


def sample(text: str, name: str, **labels) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(name + "{") and all(part in line for part in want.split(",")):
            return float(line.rsplit(" ", 1)[1])
    raise LookupError(f"{name}{{{want}}} not in /metrics")

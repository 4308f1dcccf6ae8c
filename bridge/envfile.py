"""NAME=value files (dev secrets): read by the hub and by Django settings alike."""

from __future__ import annotations

from pathlib import Path


def parse_env_file(text: str) -> dict[str, str]:
    """Read NAME=value lines; blank lines and # comments are skipped."""
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"line {number}: expected NAME=value")
        values[name.strip()] = value.strip()
    return values


def load_env_file(path: str | Path) -> dict[str, str]:
    """The values in `path`, or {} when it does not exist."""
    path = Path(path)
    return parse_env_file(path.read_text(encoding="utf-8")) if path.exists() else {}

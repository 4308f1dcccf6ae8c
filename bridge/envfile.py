"""NAME=value files (dev secrets): read by the hub and by Django settings alike, with python-dotenv's
parser (quotes, comments, `export`), as any .env file."""

from __future__ import annotations

import io
from pathlib import Path

from dotenv import dotenv_values


def parse_env_file(text: str) -> dict[str, str]:
    """The NAME=value pairs of `text`; ValueError naming a line that has a name but no value."""
    values = dotenv_values(stream=io.StringIO(text), interpolate=False)  # a secret's "$" stays itself
    bare = [name for name, value in values.items() if value is None]
    if bare:
        raise ValueError(f"expected NAME=value, not {bare[0]!r}")
    return dict(values)


def load_env_file(path: str | Path) -> dict[str, str]:
    """The values in `path`, or {} when it does not exist."""
    path = Path(path)
    return parse_env_file(path.read_text(encoding="utf-8")) if path.exists() else {}

"""Benchmark parameters in three layers, shared by every benchmark's params module: the dataclass's
defaults, then `<PREFIX><FIELD>` environment variables (BENCH_EVENTS=2000), then command-line flags."""

from __future__ import annotations

import dataclasses


def convert(value, kind: type):
    """A flag's or variable's text as the field's type: bools from 1/true/yes/on, tuples from
    comma-separated items (whole numbers become ints)."""
    if kind is bool:
        return str(value).strip().lower() in ("1", "true", "yes", "on")
    if kind is tuple:
        items = [v.strip() for v in str(value).split(",") if v.strip()]
        return tuple(int(v) if v.isdigit() else v for v in items)
    return kind(value)


def kinds(params_class) -> dict[str, type]:
    """Each field's type, read off its default value."""
    defaults = params_class()
    return {f.name: type(getattr(defaults, f.name)) for f in dataclasses.fields(params_class)}


def from_env(params_class, env, prefix: str, skip=("quick",)) -> dict:
    """The fields set in the environment, converted."""
    return {
        name: convert(env[prefix + name.upper()], kind)
        for name, kind in kinds(params_class).items()
        if name not in skip and prefix + name.upper() in env
    }


def from_flags(args, skip=("quick",)) -> dict:
    """The flags given on the command line (argparse leaves the others None)."""
    return {name: value for name, value in vars(args).items() if name not in skip and value is not None}

"""Checks that need a Python process of their own: patches that last for the life of a process
(router/patches/fastlog.py, turnflush.py, fastsend.py, gcfreeze.py), and Crossbar, which selects Twisted for
txaio when imported while the test process runs the asyncio client."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from switchboard.router import settings as S


def run_python(args: list[str], *, unset: tuple[str, ...] = (), timeout: float = 120, **env: str) -> None:
    """`python *args` in the project root, with the variables in `unset` removed from this process's
    environment and `env` added; fails with the process's output unless it exits 0."""
    environ = {k: v for k, v in os.environ.items() if k not in unset}
    result = subprocess.run(
        [sys.executable, *args],
        cwd=S.PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**environ, **env},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def run_code(code: str, *args: str, unset: tuple[str, ...] = (), **env: str) -> None:
    """`code` (dedented) in a fresh interpreter, see run_python; `args` become its sys.argv[1:]."""
    run_python(["-c", textwrap.dedent(code), *args], unset=unset, **env)

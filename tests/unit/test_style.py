"""The tree stays ruff-clean and ruff-formatted (rules in pyproject.toml), so style is checked where
tests are: `ruff format .` fixes the formatting."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def ruff() -> str:
    found = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("ruff is not installed (make test installs it)")
        pytest.skip("ruff is not installed")
    return found


@pytest.mark.parametrize("command", [["check", "--output-format", "concise", "."], ["format", "--check", "."]])
def test_ruff_is_clean(command):
    result = subprocess.run([ruff(), *command], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

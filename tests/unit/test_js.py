"""Runs the JavaScript unit tests (tests/js/, node's built-in test runner) as part of `make test`."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

JS_TESTS = Path(__file__).resolve().parent.parent / "js"


def test_javascript_unit_tests_pass():
    node = shutil.which("node")
    if not node:
        if os.environ.get("CI"):
            pytest.fail("node is not installed; the JavaScript unit tests need it")
        pytest.skip("node is not installed")
    result = subprocess.run([node, "--test", str(JS_TESTS)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout

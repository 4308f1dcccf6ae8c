"""router.turnflush: a Crossbar worker sends what one reactor turn wrote to a client at the end of
that turn, with Twisted's own handling of full sockets, closes and failed sends kept. The socket cases
(tests/unit/turnflush_cases.py) run over real loopback TCP, each in a fresh interpreter, because the
change lasts for the life of a process."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from router import settings as S
from tests.unit.turnflush_cases import CASES

ROOT = Path(__file__).resolve().parents[2]
CLEAN_ENV = {k: v for k, v in os.environ.items() if k != S.ENV_TURN_FLUSH}


def run(args: list[str], **env) -> None:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**CLEAN_ENV, **env})
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_sockets(case):
    run(["-m", "tests.unit.turnflush_cases", case])


def test_installed_in_a_worker():
    run(["-c", textwrap.dedent("""
        import importlib.machinery, sys
        sys.modules["__main__"].__spec__ = importlib.machinery.ModuleSpec("crossbar.worker.main", None)
        from twisted.internet import tcp, unix
        from router import turnflush
        assert turnflush.install() and turnflush.install()  # once; a second call changes nothing
        assert tcp.Server.startWriting is turnflush._start_writing
        assert unix.Server.startWriting is turnflush._start_writing  # the router's unix-socket transports
        assert tcp.Client.startWriting is not turnflush._start_writing  # connecting needs the reactor
        """)])


def test_outside_a_worker_twisted_is_untouched():
    run(["-c", textwrap.dedent("""
        from twisted.internet import abstract, tcp
        from router import turnflush
        assert not turnflush.install()
        assert tcp.Server.startWriting is abstract.FileDescriptor.startWriting
        """)])


def test_the_environment_turns_it_off():
    run(["-c", textwrap.dedent("""
        from twisted.internet import abstract, tcp
        from router import turnflush
        assert not turnflush.install(force=True)
        assert tcp.Server.startWriting is abstract.FileDescriptor.startWriting
        """)], **{S.ENV_TURN_FLUSH: "0"})

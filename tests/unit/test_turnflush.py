"""switchboard.router.patches.turnflush: a Crossbar worker sends what one reactor turn wrote to a client at the end of
that turn, with Twisted's own handling of full sockets, closes and failed sends kept. The socket cases
(tests/unit/turnflush_cases.py) run over real loopback TCP, each in a fresh interpreter, because the
change lasts for the life of a process."""

import pytest
from switchboard.router import settings as S

from tests.fresh_python import run_code, run_python
from tests.unit.turnflush_cases import CASES


@pytest.mark.parametrize("case", sorted(CASES))
def test_sockets(case):
    run_python(["-m", "tests.unit.turnflush_cases", case], unset=(S.ENV_TURN_FLUSH,))


def test_installed_in_a_worker():
    run_code(
        """
        import importlib.machinery, sys
        sys.modules["__main__"].__spec__ = importlib.machinery.ModuleSpec("crossbar.worker.main", None)
        from twisted.internet import tcp, unix
        from switchboard.router.patches import turnflush
        assert turnflush.install() and turnflush.install()  # once; a second call changes nothing
        assert tcp.Server.startWriting is turnflush._start_writing
        assert unix.Server.startWriting is turnflush._start_writing  # the router's unix-socket transports
        assert tcp.Client.startWriting is not turnflush._start_writing  # connecting needs the reactor
        """,
        unset=(S.ENV_TURN_FLUSH,),
    )


def test_outside_a_worker_twisted_is_untouched():
    run_code(
        """
        from twisted.internet import abstract, tcp
        from switchboard.router.patches import turnflush
        assert not turnflush.install()
        assert tcp.Server.startWriting is abstract.FileDescriptor.startWriting
        """,
        unset=(S.ENV_TURN_FLUSH,),
    )


def test_the_environment_turns_it_off():
    run_code(
        """
        from twisted.internet import abstract, tcp
        from switchboard.router.patches import turnflush
        assert not turnflush.install(force=True)
        assert tcp.Server.startWriting is abstract.FileDescriptor.startWriting
        """,
        **{S.ENV_TURN_FLUSH: "0"},
    )

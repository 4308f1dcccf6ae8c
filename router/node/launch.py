"""`python -m switchboard.router.node.launch start --cbdir DIR ...`: Crossbar's node, run with
Switchboard's personality (router/node/workers.py), so that its workers install Switchboard's patches,
and with Switchboard's log view (router/node/logview.py): a short start at info, JSON lines on request.

The same steps as the `crossbar` script's standalone path: the best reactor first (before anything
imports Twisted's default one), then Crossbar's command line with the personality.
"""

from __future__ import annotations

import os
import sys


def _log_view(log_format: str) -> None:
    """Crossbar's stdout and stderr observers behind Switchboard's filter and format, and the
    versions line first."""
    import crossbar.node.main as crossbar_node
    from switchboard.router.node import logview
    from twisted.logger import Logger

    view = logview.View()
    for name, stream in (("make_stdout_observer", "__stdout__"), ("make_stderr_observer", "__stderr__")):
        setattr(crossbar_node, name, logview.observers(getattr(crossbar_node, name), log_format, stream, view))
    start_logging = crossbar_node._start_logging

    def start_logging_then_say_what_runs(options, reactor):
        start_logging(options, reactor)
        Logger(namespace="switchboard.node").info("{line}", line=logview.versions_line(reactor))

    crossbar_node._start_logging = start_logging_then_say_what_runs


def main(argv: list[str] | None = None) -> int:
    from autobahn.twisted import install_reactor

    reactor = install_reactor(
        explicit_reactor=os.environ.get("CROSSBAR_REACTOR"), verbose=False, require_optimal_reactor=False
    )
    from crossbar.node.main import main as crossbar_main
    from switchboard.router import settings as S
    from switchboard.router.node.workers import Personality

    _log_view(S.log_format(os.environ))
    args = sys.argv[1:] if argv is None else argv
    return crossbar_main("switchboard-node", args, reactor, Personality) or 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m switchboard.router.node.launch start --cbdir DIR ...`: Crossbar's node, run with
Switchboard's personality (router/node/workers.py), so that its workers install Switchboard's patches.

The same steps as the `crossbar` script's standalone path: the best reactor first (before anything
imports Twisted's default one), then Crossbar's command line with the personality.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    from autobahn.twisted import install_reactor

    reactor = install_reactor(
        explicit_reactor=os.environ.get("CROSSBAR_REACTOR"), verbose=False, require_optimal_reactor=False
    )
    from crossbar.node.main import main as crossbar_main
    from switchboard.router.node.workers import Personality

    args = sys.argv[1:] if argv is None else argv
    return crossbar_main("switchboard-node", args, reactor, Personality) or 0


if __name__ == "__main__":
    sys.exit(main())

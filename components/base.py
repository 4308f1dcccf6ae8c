"""What every backend component shares: WAMP-CRA join as the backend role, and a standalone runner.

Under `make run` Crossbar starts each component in a container worker (restart-always); standalone,
`run_standalone` connects over RawSocket or WebSocket and reconnects for ever after the hub goes away.
The worker's tuning and guards are installed by the worker itself at start (router/node/workers.py),
not by importing this module.
"""

from __future__ import annotations

import argparse
import os

from autobahn.twisted.wamp import ApplicationRunner, ApplicationSession
from autobahn.wamp import auth
from autobahn.wamp.exception import ApplicationError
from switchboard.router import settings as S
from switchboard.router.services.session import CheckedArguments, QuietApplicationErrors
from twisted.logger import Logger

log = Logger()


class BackendSession(QuietApplicationErrors, CheckedArguments, ApplicationSession):
    """Joins the realm as authid `backend` (role backend), secret from SWITCHBOARD_BACKEND_SECRET.

    Subclasses put their registrations and subscriptions in `async def setup(self, details)`; once
    it returns, the session subscribes to READY_TOPIC, and the hub counts it as ready.
    """

    async def setup(self, details) -> None:
        raise NotImplementedError

    async def onJoin(self, details):
        try:
            await self.setup(details)
            # counted by the hub's readiness (router/node/process.py, Node.wait_ready)
            await self.subscribe(_ready, S.READY_TOPIC)
            log.info(S.READY_LINE, name=type(self).__name__)
        except ApplicationError as e:
            if e.error != "wamp.close.transport_lost":
                raise
            # The router went away while we were setting up (a hub stopping): the runner or the
            # container reconnects us; nothing to report.

    def onConnect(self):
        self.join(self.config.realm, authmethods=["wampcra"], authid=S.BACKEND_AUTHID)

    def onChallenge(self, challenge):
        if challenge.method != "wampcra":
            raise Exception(f"backend components answer only wampcra, not {challenge.method}")
        secret = S.runtime().backend_secret
        if not secret:
            raise Exception(f"{S.ENV_BACKEND_SECRET} is not set")
        return auth.compute_wcs(secret, challenge.extra["challenge"])

    def onDisconnect(self):
        # Standalone the runner reconnects; in a container, Crossbar restarts the component.
        pass


def _ready(*args, **kwargs) -> None:
    """Nothing is published on the readiness topic; the subscription itself is the signal."""


def run_standalone(component: type[ApplicationSession], argv: list[str] | None = None) -> None:
    """`python -m switchboard.components.<name>`: connect to a running hub and stay connected."""
    from switchboard.router.node.secrets import ensure_secrets

    defaults = S.Settings.from_env()
    if not os.environ.get(S.ENV_BACKEND_SECRET):
        # a component on the hub's machine: the secrets come from the hub's file (generated there if
        # need be), before this process's Runtime is read
        os.environ.update(ensure_secrets(defaults.secrets_file)[0])
    runtime = S.runtime()
    parser = argparse.ArgumentParser(description=component.__doc__)
    parser.add_argument(
        "--url",
        default=runtime.component_url or defaults.backend_url,
        help=f"router URL, rs://host:port or ws://host:port/ws (default: ${S.ENV_URL} or %(default)s)",
    )
    parser.add_argument("--realm", default=runtime.component_realm or defaults.realm)
    args = parser.parse_args(argv)
    ApplicationRunner(args.url, args.realm).run(component, auto_reconnect=True)

"""What every backend component shares: WAMP-CRA join as the backend role, and a standalone runner.

Under `make run` Crossbar starts each component in a container worker (restart-always); standalone,
`run_standalone` connects over RawSocket or WebSocket and reconnects for ever after the hub goes away.
"""

from __future__ import annotations

import argparse
import os

from autobahn.twisted.wamp import ApplicationRunner, ApplicationSession
from autobahn.wamp import auth
from autobahn.wamp.exception import ApplicationError

from components.arguments import checked
from router import (
    authcache,
    connlimit,
    dealer_order,
    durable_ack,
    fastlog,
    fastsend,
    gcfreeze,
    httplimit,
    ingress,
    sendlimit,
    turnflush,
    workerlog,
)
from router import settings as S

# Every Switchboard worker process (the router's and each container's) imports this module once its
# Crossbar worker is up, and applies the per-worker tuning there: lazy debug-log arguments
# (router/fastlog.py), sends at the end of each reactor turn (router/turnflush.py), WAMP messages to
# WebSocket peers as ready-made frames (router/fastsend.py), the startup heap and later long-lived
# objects out of full garbage collections between periodic full passes (router/gcfreeze.py), and its
# log records to the node controller one write per turn, without Crossbar's per-connection chatter
# (router/workerlog.py). Every worker also checks what clients send before Crossbar acts on it, with
# the interpreter's recursion limit back at CPython's (router/ingress.py), and drops a WebSocket peer
# whose unsent bytes pass the send buffer limit (router/sendlimit.py), and refuses an HTTP body over
# the message size limit before reading it (router/httplimit.py); its router keeps a bounded cache of
# authorization decisions (router/authcache.py).
fastlog.install()
ingress.install()
authcache.install()
httplimit.install()
turnflush.install()
fastsend.install()
sendlimit.install()
workerlog.install()
gcfreeze.freeze_startup_heap()
gcfreeze.keep_long_lived_frozen()
# The router worker alone limits connections per client address on the public web transport
# (router/connlimit.py).
connlimit.install()
# The router worker alone authorizes a REGISTER before Crossbar looks at what is registered, so a
# refusal never tells which procedures exist (router/dealer_order.py).
dealer_order.install()
# The router worker alone holds the PUBLISHED reply to a publish the history component stores until
# that event is committed, so an acknowledged event survives a kill -9 (router/durable_ack.py).
durable_ack.install()


class QuietApplicationErrors:
    """Mixin: an ApplicationError raised by a procedure is the answer to bad input, already sent to
    the caller: not a fault to log. Anything else is still logged."""

    def onUserError(self, fail, msg):
        if isinstance(fail.value, ApplicationError):
            return
        super().onUserError(fail, msg)


class CheckedArguments:
    """Mixin: every procedure registered with a URI answers arguments its signature cannot take with
    switchboard.error.invalid_argument instead of a TypeError (components/arguments.py)."""

    def register(self, endpoint, procedure=None, options=None, *args, **kwargs):
        if callable(endpoint) and procedure is not None:
            endpoint = checked(endpoint, procedure, getattr(options, "details_arg", None))
        return super().register(endpoint, procedure, options, *args, **kwargs)


class BackendSession(QuietApplicationErrors, CheckedArguments, ApplicationSession):
    """Joins the realm as authid `backend` (role backend), secret from SWITCHBOARD_BACKEND_SECRET.

    Subclasses put their registrations and subscriptions in `async def setup(self, details)`.
    """

    async def setup(self, details) -> None:
        raise NotImplementedError

    async def onJoin(self, details):
        try:
            await self.setup(details)
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
        secret = os.environ.get(S.ENV_BACKEND_SECRET)
        if not secret:
            raise Exception(f"{S.ENV_BACKEND_SECRET} is not set")
        return auth.compute_wcs(secret, challenge.extra["challenge"])

    def onDisconnect(self):
        # Standalone the runner reconnects; in a container, Crossbar restarts the component.
        pass


def run_standalone(component: type[ApplicationSession], argv: list[str] | None = None) -> None:
    """`python -m components.<name>`: connect to a running hub and stay connected."""
    defaults = S.Settings.from_env()
    parser = argparse.ArgumentParser(description=component.__doc__)
    parser.add_argument("--url", default=os.environ.get(S.ENV_URL) or defaults.backend_url,
                        help=f"router URL, rs://host:port or ws://host:port/ws (default: ${S.ENV_URL} or %(default)s)")
    parser.add_argument("--realm", default=os.environ.get(S.ENV_REALM) or defaults.realm)
    args = parser.parse_args(argv)
    if not os.environ.get(S.ENV_BACKEND_SECRET):
        from router.secrets import ensure_secrets

        secrets, _ = ensure_secrets(defaults.secrets_file)
        os.environ.update(secrets)
    ApplicationRunner(args.url, args.realm).run(component, auto_reconnect=True)

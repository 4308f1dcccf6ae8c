"""TicketAuth.authenticate answers every input with an accept or an ApplicationError: anything else
would leave the session hanging in Crossbar (no WELCOME, no ABORT). Run in a fresh interpreter on
Twisted, as the router worker does (switchboard.router.services.auth imports autobahn.twisted)."""

from tests.fresh_python import run_code

CHECKS = """
import txaio
txaio.use_twisted()
from autobahn.wamp.exception import ApplicationError

from switchboard.bridge import tickets
from switchboard.bridge.replay import MemoryStore, NonceCache
from switchboard.router.services import auth as A


class Exploding(MemoryStore):
    def expiry(self, key):
        raise RuntimeError("disk on fire")


class Log:
    def __init__(self):
        self.lines = []

    def warn(self, fmt, **kwargs):
        self.lines.append(fmt.format(**kwargs))


def authenticator(store=None):
    auth = A.TicketAuth.__new__(A.TicketAuth)  # no router: only the authenticate logic
    auth._secret, auth._used = "k", NonceCache(60, store=store)
    return auth


def refusal(auth, details):
    A.log = Log()
    try:
        auth.authenticate("switchboard", None, details)
    except ApplicationError as e:
        return e.error, A.log.lines
    raise AssertionError("accepted")


ticket = tickets.mint("k", "5", extra={"name": "ada"})
auth = authenticator()
assert auth.authenticate("switchboard", None, {"ticket": ticket}) == {
    "authid": "5", "role": "user", "extra": {"name": "ada"}}
assert refusal(auth, {"ticket": ticket}) == (tickets.REPLAYED, [])
assert refusal(auth, {"ticket": "garbage"}) == (tickets.INVALID, []), "refusals are not logged"
for store, details in [(Exploding(), {"ticket": tickets.mint("k", "5")}), (None, None), (None, ["ticket"])]:
    error, lines = refusal(authenticator(store), details)
    assert error == tickets.INVALID, (details, error)
    assert len(lines) == 1 and "unexpected error" in lines[0] and "Traceback" not in lines[0], lines

# With a replay database the acceptance waits for the ticket's use to be committed (a Deferred), and a
# use that cannot be recorded is refused as ticket_invalid, never left hanging.
from twisted.internet import defer
from switchboard.router.services.replay_store import ReplayStoreError

durable = auth._writer = object()
outcomes = []
A.replay_store.durable = lambda writer: defer.succeed(None) if writer is durable else None
auth.authenticate("switchboard", None, {"ticket": tickets.mint("k", "6")}).addBoth(outcomes.append)
assert outcomes == [{"authid": "6", "role": "user", "extra": {}}], outcomes
A.replay_store.durable = lambda writer: defer.fail(ReplayStoreError("disk full"))
A.log = Log()
auth.authenticate("switchboard", None, {"ticket": tickets.mint("k", "6")}).addBoth(outcomes.append)
assert isinstance(outcomes[1].value, ApplicationError) and outcomes[1].value.error == tickets.INVALID, outcomes
assert len(A.log.lines) == 1 and "could not be recorded" in A.log.lines[0], A.log.lines

# The admin secret is a ticket that signs in as "admin" with role admin, as often as it is given; a
# signed ticket may carry role admin too; a hub without an admin secret takes no empty ticket for one.
admin = authenticator()
admin._admin_secret = b"s" * 43
for _ in range(2):
    assert admin.authenticate("switchboard", None, {"ticket": "s" * 43}) == {
        "authid": "admin", "role": "admin", "extra": {}}
assert admin.authenticate("switchboard", "admin", {"ticket": "s" * 43})["role"] == "admin"
assert refusal(admin, {"ticket": "s" * 42}) == (tickets.INVALID, [])
assert refusal(admin, {"ticket": "s" * 43 + "\\udc80"})[0] == tickets.INVALID
assert refusal(admin, {"ticket": 43}) == (tickets.INVALID, [])
A.log = Log()
try:
    admin.authenticate("switchboard", "5", {"ticket": "s" * 43})
    raise AssertionError("another authid accepted with the admin secret")
except ApplicationError as e:
    assert e.error == tickets.INVALID and "admin" in e.args[0]
assert admin.authenticate("switchboard", None, {"ticket": tickets.mint("k", "7", role="admin")})["role"] == "admin"
assert refusal(authenticator(), {"ticket": ""}) == (tickets.INVALID, [])
A.log = Log()
assert A.admin_secret("s" * 32) == b"s" * 32 and A.admin_secret(None) == b"" and A.log.lines == []
assert A.admin_secret("short") == b"" and "shorter than 32 bytes" in A.log.lines[0], A.log.lines
"""


def test_any_input_is_accepted_or_refused_with_an_application_error():
    run_code(CHECKS)

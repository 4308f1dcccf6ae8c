"""TicketAuth.authenticate answers every input with an accept or an ApplicationError: anything else
would leave the session hanging in Crossbar (no WELCOME, no ABORT). Run in a fresh interpreter on
Twisted, as the router worker does (router.auth imports autobahn.twisted)."""

from tests.fresh_python import run_code

CHECKS = """
import txaio
txaio.use_twisted()
from autobahn.wamp.exception import ApplicationError

from bridge import tickets
from bridge.replay import MemoryStore, NonceCache
from router import auth as A


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
"""


def test_any_input_is_accepted_or_refused_with_an_application_error():
    run_code(CHECKS)

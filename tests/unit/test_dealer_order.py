"""switchboard.router.patches.dealer_order: an unauthorized REGISTER is refused before Crossbar's code
can say it exists."""

from autobahn.wamp import message
from switchboard.router.patches import dealer_order
from twisted.internet import defer


class FakeRouter:
    def __init__(self, allow):
        self.allow, self.sent, self.asked = allow, [], []

    def authorize(self, session, uri, action, options):
        self.asked.append((uri, action))
        return defer.succeed({"allow": self.allow, "cache": True})

    def send(self, session, reply):
        self.sent.append(reply)


class FakeSession:
    _session_id, _authid, _authrole, _realm = 7, "anon", "anonymous", "switchboard"


class FakeDealer:
    def __init__(self, allow):
        self._router = FakeRouter(allow)


def register(allow, monkeypatch):
    stock = []
    monkeypatch.setattr(dealer_order, "_stock_process_register", lambda *args: stock.append(args))
    dealer = FakeDealer(allow)
    dealer_order.process_register(dealer, FakeSession(), message.Register(1, "demo.add2"))
    return dealer._router, stock


def test_a_refused_register_is_not_authorized_and_never_reaches_crossbars_code(monkeypatch):
    router, stock = register(False, monkeypatch)
    assert stock == [] and router.asked == [("demo.add2", "register")]
    [reply] = router.sent
    assert isinstance(reply, message.Error) and reply.error == "wamp.error.not_authorized"
    assert reply.request_type == message.Register.MESSAGE_TYPE and reply.request == 1


def test_an_allowed_register_goes_on_to_crossbars_code(monkeypatch):
    router, stock = register(True, monkeypatch)
    assert len(stock) == 1 and router.sent == []


def test_not_installed_outside_a_crossbar_worker():
    assert dealer_order.install() is False

"""switchboard.router.patches.connlimit: only the web transport's listening factory is limited, a
refused connection is aborted before anything is read, and every close gives its place back.
Each install runs in a fresh interpreter: it lasts for the life of the process."""

from switchboard.router.patches import connlimit

from tests.fresh_python import run_code


def test_only_a_crossbar_worker_or_force_installs_it():
    run_code("""
from switchboard.router.patches import connlimit
assert connlimit.install() is None
""")


def test_both_limits_off_or_the_guards_off_installs_nothing():
    run_code("""
from crossbar.common.twisted import endpoint
from switchboard.router.patches import connlimit
stock = endpoint.MaxConnectionsFactory
assert connlimit.install(force=True, env={"SWITCHBOARD_GUARDS": "0"}) is None
assert connlimit.install(force=True, env={"SWITCHBOARD_CONNECTIONS_PER_IP": "0",
                                          "SWITCHBOARD_CONNECTS_PER_SECOND_PER_IP": "0"}) is None
assert endpoint.MaxConnectionsFactory is stock
""")


def test_the_web_transport_refuses_over_the_limit_and_releases_on_close():
    run_code("""
from crossbar.common.twisted import endpoint
from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.internet.error import ConnectionDone
from txaio import make_logger
from switchboard.router.patches import connlimit

stock = endpoint.MaxConnectionsFactory
clock = Clock()
table = connlimit.install(reactor=clock, force=True, clock=clock.seconds,
                          env={"SWITCHBOARD_CONNECTIONS_PER_IP": "2", "SWITCHBOARD_CONNECTS_PER_SECOND_PER_IP": "0"})
assert table is not None and connlimit.install() is table

class Echo(Protocol):
    received = b""
    def dataReceived(self, data):
        self.received += data

log = make_logger()
backend = endpoint.MaxConnectionsFactory(Factory.forProtocol(Echo), 100, "backend", clock, log)
assert type(backend) is stock
web = endpoint.MaxConnectionsFactory(Factory.forProtocol(Echo), 100, "web", clock, log)

def connect(factory, host="10.0.0.1"):
    protocol = factory.buildProtocol(IPv4Address("TCP", host, 40000))
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport

held = [connect(web) for _ in range(2)]
refused, transport = connect(web)
assert isinstance(refused, endpoint._RefusedConnection) and transport.disconnecting, "aborted at once"
assert table.open_count("10.0.0.1") == 2
other, _ = connect(web, "10.0.0.2")
assert not isinstance(other, endpoint._RefusedConnection)
for _ in range(5):
    p, t = connect(backend)
    assert not isinstance(p, endpoint._RefusedConnection)

held[0][0].dataReceived(b"still served")
assert held[0][0].wrappedProtocol.received == b"still served"
held[0][0].connectionLost(Failure(ConnectionDone()))
assert table.open_count("10.0.0.1") == 1
p, t = connect(web)
assert not isinstance(p, endpoint._RefusedConnection)
# a protocol that takes the connection over (a WebSocket upgrade) replaces only the wrapped one
p.wrappedProtocol = Echo()
p.connectionLost(Failure(ConnectionDone()))
assert table.open_count("10.0.0.1") == 1

clock.advance(connlimit.LOG_SECONDS)
assert len(table) == 2  # the two addresses with open connections; reported and idle ones are gone
""")


def test_the_client_address_is_the_tcp_peer():
    from twisted.internet.address import IPv4Address, IPv6Address

    assert connlimit.client_address(IPv4Address("TCP", "192.0.2.7", 5000)) == "192.0.2.7"
    assert connlimit.client_address(IPv6Address("TCP", "2001:db8::1", 5000)) == "2001:db8::1"

"""Fixtures of the unit tests.

`open_store`: the two history stores behind one fixture, so the tests of the store's contract run on
both: the node's own SQLite file, and a cluster's Redis (a real redis-server, one per test session).

    def test_x(open_store):
        store = open_store()   # the same store again on a second call (a reopened file, the same realm)
"""

import uuid

import pytest
from switchboard.router.services.history_redis import RedisHistoryStore
from switchboard.router.services.history_store import HistoryStore
from switchboard.router.testing.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "redis"])
def open_store(request, tmp_path):
    opened = []
    if request.param == "sqlite":

        def open_store():
            opened.append(HistoryStore(tmp_path / "h.sqlite3"))
            return opened[-1]
    else:
        server, realm = request.getfixturevalue("redis_server"), f"test-{uuid.uuid4().hex[:8]}"

        def open_store():
            opened.append(RedisHistoryStore(server.url, realm))
            return opened[-1]

    yield open_store
    for store in opened:
        store.close()

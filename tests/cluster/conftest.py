"""One 3-node cluster (its own Redis) for the tests of this folder: starting one takes ~10 s."""

import pytest
from switchboard.router.testing.cluster import Cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with Cluster.started(tmp_path_factory.mktemp("cluster"), nodes=3) as cluster:
        yield cluster

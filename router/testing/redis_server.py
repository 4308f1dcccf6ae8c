"""A throw-away Redis server for tests and benchmarks: switchboard.router.cluster.redis_server, where
`switchboard cluster up` finds it too (this module stays so tests and benches keep importing it here)."""

from switchboard.router.cluster.redis_server import RedisMissing, RedisServer, find_binary, started

__all__ = ["RedisMissing", "RedisServer", "find_binary", "started"]

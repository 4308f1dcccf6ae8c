"""router/patches/authcache.py: the router's authorization cache holds at most its limit, oldest out first."""

from switchboard.router.patches.authcache import BoundedCache


def test_the_cache_never_holds_more_than_its_limit_and_drops_the_oldest():
    cache = BoundedCache(3)
    for i in range(10):
        cache[("realm", "anonymous", f"chat.room.{i}", "subscribe")] = {"allow": True}
        assert len(cache) <= 3
    assert [key[2] for key in cache] == ["chat.room.7", "chat.room.8", "chat.room.9"]


def test_replacing_an_entry_evicts_nothing():
    cache = BoundedCache(2)
    cache["a"], cache["b"] = 1, 2
    cache["a"] = 3
    assert cache == {"a": 3, "b": 2}

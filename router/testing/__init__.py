"""Helpers for testing against a real hub: `Hub` (a Crossbar node on free ports in a temp dir) and
the pytest plugin's fixtures (pytest_plugin).

    from switchboard.router.testing import Hub

Importing this package loads nothing else: the pytest plugin is imported in every test run of a
project that installs Switchboard, and must not set up the asyncio client (txaio) there.
"""

__all__ = ["Hub", "wait_until"]


def __getattr__(name):
    if name in __all__:
        from switchboard.router.testing import hub

        return getattr(hub, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

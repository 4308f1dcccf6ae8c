"""switchboard.router.patches.fastlog: Crossbar's and Autobahn's log arguments are built only when a message is logged,
and read exactly as before when it is.

Crossbar selects Twisted for txaio when imported, and this test process already runs the asyncio
client (switchboard.router.client), so each check runs in a fresh interpreter, as a Crossbar worker would.
"""

import textwrap

from switchboard.router import settings as S

from tests.fresh_python import run_code

PRELUDE = """
import io, pprint
import autobahn.util, crossbar._util
import crossbar.router.dealer as dealer, crossbar.router.router as router, crossbar.router.session as session
from twisted.logger import FilteringLogObserver, Logger, LogLevel, LogLevelFilterPredicate, formatEvent
from switchboard.router.patches import fastlog
"""


def run(code: str, **env) -> None:
    run_code(PRELUDE + textwrap.dedent(code), unset=(S.ENV_LAZY_LOG_ARGS,), **env)


def test_install_makes_the_helpers_lazy_where_they_are_used():
    run("""
        assert fastlog.install("info") > 0
        assert isinstance(session.hlval("session 42"), fastlog.Lazy)
        assert session.hlval.__switchboard_lazy__ is autobahn.util.hlval
        # the helpers' own modules keep the originals (their bodies concatenate each other's results)
        assert not hasattr(crossbar._util.hltype, "__switchboard_lazy__")
        assert not hasattr(autobahn.util.hltype, "__switchboard_lazy__")
    """)


def test_a_lazy_value_reads_as_the_original():
    run("""
        fastlog.install("info")
        eager = crossbar._util.hltype(fastlog.install)
        lazy = dealer.hltype(fastlog.install)
        assert isinstance(lazy, fastlog.Lazy)
        assert str(lazy) == eager and repr(lazy) == eager and f"{lazy}" == eager and "{}".format(lazy) == eager
        assert "[" + lazy == "[" + eager and lazy + "]" == eager + "]"
    """)


def test_nothing_is_built_for_a_message_below_the_level():
    run("""
        fastlog.install("info")
        calls = []
        autobahn.util.click.style = lambda text, **kw: calls.append(text) or text
        out = io.StringIO()
        predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.info)
        log = Logger(observer=FilteringLogObserver(lambda e: out.write(formatEvent(e) + "\\n"), [predicate]))
        log.debug("dropped {x}", x=session.hlval("not built"))
        assert calls == [] and out.getvalue() == "", (calls, out.getvalue())
        log.info("kept {x}", x=session.hlval("built"))
        assert calls == ["built"] and out.getvalue() == "kept built\\n", (calls, out.getvalue())
    """)


def test_pformat_is_lazy_in_crossbar_modules():
    run("""
        fastlog.install("info")
        value = router.pformat({"allow": True})
        assert isinstance(value, fastlog.Lazy) and str(value) == pprint.pformat({"allow": True})
        assert pprint.pformat is not router.pformat  # the pprint module itself is untouched
    """)


def test_debug_and_trace_keep_everything_eager():
    run("""
        assert fastlog.install("debug") == 0 and fastlog.install("trace") == 0
        assert session.hlval is autobahn.util.hlval and router.pformat is pprint.pformat
    """)


def test_the_environment_can_turn_it_off():
    run(
        """
        assert fastlog.install("info") == 0
        assert session.hlval is autobahn.util.hlval
    """,
        **{S.ENV_LAZY_LOG_ARGS: "0"},
    )

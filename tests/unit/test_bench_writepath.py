"""bench.writepath keeps working (a tiny run; its numbers are not checked: benchmarks assert no times),
and leaves switchboard.router.patches.turnflush as it ships."""

from switchboard.router import settings as S

from tests.fresh_python import run_code, run_python


def test_a_small_run_measures_every_way():
    run_code(
        """
        from bench import writepath
        from switchboard.router.patches import turnflush
        result = writepath.measure(connections=5, rounds=10, pause=0)
        assert set(result["us_per_delivery"]) == set(writepath.WAYS), result
        assert all(v["median"] > 0 for v in result["us_per_delivery"].values()), result
        assert (turnflush.send_buffer, turnflush.write) == writepath.SHIPPED
        """,
        unset=(S.ENV_TURN_FLUSH,),
    )


def test_the_command_runs():
    run_python(["-m", "bench.writepath", "--connections", "3", "--rounds", "5", "--no-save"], unset=(S.ENV_TURN_FLUSH,))

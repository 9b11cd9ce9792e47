"""Journey fixtures: mite's `_fixture` attributes on journey functions (spec §1.10)."""

FIXTURE_JOURNEYS = """
    import asyncio
    from mite.datapools import IterableDataPool
    from observe import observe

    calls = []

    async def make_connection(ctx):
        calls.append(1)
        await asyncio.sleep(0.05)
        return {"connection": len(calls)}

    async def use_connection(ctx, n):
        observe(n=n, db=ctx.db, calls=len(calls))

    use_connection._fixture = True
    use_connection._fixture_label = "db"
    use_connection._fixture_func = make_connection
    use_connection._fixture_variable = "db"

    async def broken(ctx):
        raise RuntimeError("no database")

    async def uses_broken(ctx, n):
        observe(ran=True)

    uses_broken._fixture = True
    uses_broken._fixture_label = "broken"
    uses_broken._fixture_func = broken
    uses_broken._fixture_variable = "db"

    def scenario():
        pool = IterableDataPool([(n,) for n in range(6)])
        return [["fixtures:use_connection", pool, lambda s, e: 3]]

    def broken_scenario():
        return [["fixtures:uses_broken", IterableDataPool([(1,)]), lambda s, e: 1]]
"""


def test_a_fixture_is_computed_once_and_attached_to_every_context(mite_project):
    mite_project.write("fixtures.py", FIXTURE_JOURNEYS)

    result = mite_project.run("scenario", "test", "fixtures:scenario")

    assert result.returncode == 0, result.stderr
    observed = mite_project.observed()
    assert sorted(o["n"] for o in observed) == list(range(6))
    assert all(o["db"] == {"connection": 1} and o["calls"] == 1 for o in observed)


def test_a_failing_fixture_stops_the_run_with_one_line(mite_project):
    mite_project.write("fixtures.py", FIXTURE_JOURNEYS)

    result = mite_project.run("scenario", "test", "fixtures:broken_scenario")

    assert result.returncode == 1
    assert len(result.error_lines) == 1
    assert "no database" in result.error_lines[0]
    assert "Traceback" not in result.stderr
    assert mite_project.observed() == []

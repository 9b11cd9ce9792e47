"""`mite scenario check SPEC`: a scenario checked before a run, without running a journey:
imports, shapes, async journeys that take their datapool's items, and each volume model's
plan over time; one line per problem, exit 1 if there was any."""

import shutil
from pathlib import Path

import msgpack

SEED = Path(__file__).resolve().parent.parent / "examples" / "seed"

PROBLEMS = """
from mite.datapools import IterableDataPool, RecyclableIterableDataPool


def sync_journey(ctx):
    pass


async def two_values(ctx, a, b):
    pass


async def one_value(ctx, x):
    pass


def breaks_at_three(start, end):
    if start >= 3:
        raise ValueError("the model broke")
    return 1


def scenario():
    return [
        ("problems:sync_journey", None, lambda start, end: 1),
        ("problems:two_values", RecyclableIterableDataPool([(1,)]), lambda start, end: 1),
        ("problems:one_value", IterableDataPool([]), lambda start, end: 1),
        ("problems:one_value", None, breaks_at_three),
        ("problems:no_such_journey", None, lambda start, end: 1),
        "not a scenario",
    ]
"""

CLEAN = """
import asyncio

from mite.datapools import RecyclableIterableDataPool
from mite.volume_model import Constant, Ramp


async def journey(ctx, n):
    open("journey-ran", "w").close()
    await asyncio.sleep(0)


pool = RecyclableIterableDataPool([(n,) for n in range(3)])


def scenario():
    return [("clean:journey", pool, Ramp(duration=10, frm=0) + Constant(duration=20, tps=40))]
"""


def seed_project(mite_project):
    for name in ("create_users.py", "my_file.py"):
        shutil.copy(SEED / name, mite_project.path / name)
    users = mite_project.path / "recorder-data" / "users.msgpack"
    users.parent.mkdir()
    users.write_bytes(b"".join(msgpack.packb({"username": f"u{n}"}) for n in range(5)))
    return mite_project


def test_the_seeds_scenarios_pass_with_their_plans(mite_project):
    project = seed_project(mite_project)
    create = project.run("scenario", "check", "create_users:scenario")
    assert create.returncode == 0, create.stderr
    assert "scenario 1 (create_users:create_user)" in create.stdout
    assert (
        "journey      create_users:create_user, IterableDataPool, items of 0 value(s)"
        in create.stdout
    )
    assert "no end within 24h, at most 20 journeys" in create.stdout
    signin = project.run(
        "scenario", "check", "my_file:walkthrough_scenario", "--add-to-config=duration:5"
    )
    assert signin.returncode == 0, signin.stderr
    assert "my_file:signin, RecyclableIterableDataPool, items of 1 value(s)" in signin.stdout
    assert "ends after 6s, at most 100 journeys" in signin.stdout
    assert "the run: 1 scenario(s), about 6s, at most 100 journeys at once" in signin.stdout
    # Nothing was sent: the creation scenario's purge of old recordings did not happen.
    assert (project.path / "recorder-data" / "users.msgpack").exists()


def test_the_plan_is_drawn_over_time_and_no_journey_runs(mite_project):
    mite_project.write("clean.py", CLEAN)
    result = mite_project.run("scenario", "check", "clean:scenario", "--delay-start-seconds=2")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" or "error" not in result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "over time" in line]
    drawn = line.split("|")[1]
    # A ramp to 40 over 10 s, then 40 for 20 s: rising blocks, then full ones.
    assert drawn[0] in " ▁" and drawn[-1] == "█" and len(drawn) == 31
    assert list(drawn[:10]) == sorted(drawn[:10], key=" ▁▂▃▄▅▆▇█".index)
    assert "ends after 31s, at most 40 journeys" in result.stdout
    assert "about 33s" in result.stdout  # the start delay counts
    assert not (mite_project.path / "journey-ran").exists()


def test_every_problem_is_one_line_and_the_exit_code_is_1(mite_project):
    mite_project.write("problems.py", PROBLEMS)
    result = mite_project.run("scenario", "check", "problems:scenario")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = result.error_lines
    expected = [
        "scenario 1 (problems:sync_journey): the journey is not an async function",
        "scenario 2 (problems:two_values): the journey cannot take ctx and an item of its "
        "datapool, (1,): missing a required argument: 'b'",
        "scenario 3 (problems:one_value): the datapool (IterableDataPool) is empty",
        "scenario 4 (problems:one_value): the journey cannot take ctx and nothing else "
        "(no datapool): missing a required argument: 'x'",
        "scenario 4 (problems:one_value): the volume model failed at 3s: "
        "ValueError: the model broke",
        "problems:no_such_journey",
        "item 5 is 'not a scenario'; "
        "each item must be (journey_spec, datapool or None, volume_model)",
    ]
    assert len(errors) == len(expected), result.stderr
    for line, text in zip(errors, expected, strict=True):
        assert text in line, (line, text)
    # The scenarios that could be read are still listed.
    assert "scenario 2 (problems:two_values)" in result.stdout


def test_a_failing_scenario_function_or_config_is_one_line(mite_project):
    mite_project.write("bad.py", "def scenario():\n    raise RuntimeError('no scenario today')\n")
    result = mite_project.run("scenario", "check", "bad:scenario")
    assert result.returncode == 1
    assert len(result.error_lines) == 1 and "no scenario today" in result.error_lines[0]
    missing = mite_project.run("scenario", "check", "nowhere:scenario")
    assert missing.returncode == 1 and len(missing.error_lines) == 1


def test_options_a_check_does_not_use_are_refused(mite_project):
    result = mite_project.run("scenario", "check", "m:s", "--spawn-rate=5")
    assert result.returncode == 1
    assert "--spawn-rate" in result.stderr
    listed = mite_project.run("scenario", "check", "--help")
    assert "--delay-start-seconds" in listed.stdout and "--spawn-rate" not in listed.stdout

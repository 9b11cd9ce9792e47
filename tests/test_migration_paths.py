"""What a project moving over from mite relies on: recorded data under mite's
`recorder_data/` as well as the seed's `recorder-data/`, and `--debugging` turning on asyncio's
debug mode (issue 15, points 1 and 7)."""

import os

import msgpack

CREATE = """\
import asyncio

from mite.datapools import IterableDataPool
from mite.volume_model import Constant
from observe import observe

users = IterableDataPool([(n,) for n in range(10)])


async def create_user(ctx, n):
    ctx.send("data_created", name="users", data={"n": n})


async def look(ctx):
    observe(debug=asyncio.get_running_loop().get_debug())


def scenario():
    return [("create:create_user", users, Constant(tps=2, duration=30))]
"""


def read(path):
    with open(path, "rb") as handle:
        return list(msgpack.Unpacker(handle, raw=False))


def test_recorded_data_is_readable_under_both_directory_names(mite_project):
    mite_project.write("create.py", CREATE)
    result = mite_project.run("scenario", "test", "create:scenario")
    assert result.returncode == 0, result.stderr
    ours = mite_project.path / "recorder-data" / "users.msgpack"
    mites = mite_project.path / "recorder_data" / "users.msgpack"
    assert sorted(r["n"] for r in read(ours)) == list(range(10))
    assert read(mites) == read(ours)
    assert os.path.islink(mite_project.path / "recorder_data")


def test_a_projects_existing_recorder_data_directory_is_the_one_written(mite_project):
    mite_project.write("create.py", CREATE)
    (mite_project.path / "recorder_data").mkdir()
    result = mite_project.run("scenario", "test", "create:scenario")
    assert result.returncode == 0, result.stderr
    assert not os.path.islink(mite_project.path / "recorder_data")
    assert os.path.islink(mite_project.path / "recorder-data")
    assert len(read(mite_project.path / "recorder_data" / "users.msgpack")) == 10


def test_an_explicit_recorder_dir_is_the_only_place(mite_project):
    mite_project.write("create.py", CREATE)
    result = mite_project.run("scenario", "test", "create:scenario", "--recorder-dir=data")
    assert result.returncode == 0, result.stderr
    assert len(read(mite_project.path / "data" / "users.msgpack")) == 10
    assert not (mite_project.path / "recorder_data").exists()
    assert not (mite_project.path / "recorder-data").exists()


def test_debugging_turns_on_asyncios_debug_mode(mite_project):
    mite_project.write("create.py", CREATE)
    env = {"PYTHONASYNCIODEBUG": None}
    assert mite_project.run("journey", "run", "create:look", env=env).returncode == 0
    result = mite_project.run("journey", "run", "create:look", "--debugging", env=env)
    assert result.returncode == 0, result.stderr
    assert [o["debug"] for o in mite_project.observed()] == [False, True]

"""The data-creation walkthrough of mite's docs ("Data creation scenarios"), run without HTTP.

A creation scenario makes users and reports each one with a `data_created` message; the
recorder writes them to `recorder-data/users.msgpack`. A signin scenario then reads that file
at import time, as the walkthrough shows, into a `RecyclableIterableDataPool` and signs in with
the usernames. The journeys are the walkthrough's, minus the HTTP requests: each also notes the
username it handled, so the test can compare what was created with what was used.
"""

import re

import msgpack
import pytest

NUMBER_OF_USERS = 7

CREATE_USERS = f"""
    import uuid

    from mite.datapools import IterableDataPool

    async def create_user(ctx, number):
        username = uuid.uuid4().hex
        async with ctx.transaction("Create user"):
            await ctx.send("data_created", name="users", data={{"username": username}})
        with open("created.txt", "a") as handle:
            handle.write(username + "\\n")

    # A non-recyclable datapool makes the number of users exact: one per item.
    user_numbers = IterableDataPool([(number,) for number in range({NUMBER_OF_USERS})])

    def create_users():
        return [["create_users:create_user", user_numbers, lambda start, end: 2]]
    """

SIGNIN = """
    from msgpack import Unpacker

    from mite.datapools import RecyclableIterableDataPool
    from mite.scenario import StopVolumeModel

    usernames = []
    with open("recorder-data/users.msgpack", "rb") as handle:
        for msg in iter(Unpacker(handle, raw=False, use_list=False)):
            usernames.append((msg["username"],))

    username_datapool = RecyclableIterableDataPool(usernames)

    async def signin(ctx, username):
        async with ctx.transaction("Log in"):
            with open("signed_in.txt", "a") as handle:
                handle.write(username + "\\n")

    def a_hundred_for_a_second(start, end):
        if start >= 1:
            raise StopVolumeModel
        return 100

    def my_scenario():
        return [["signin:signin", username_datapool, a_hundred_for_a_second]]
    """


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory, mite_project_factory):
    project = mite_project_factory(tmp_path_factory.mktemp("walkthrough"))
    project.write("create_users.py", CREATE_USERS)
    project.write("signin.py", SIGNIN)
    creation = project.run("scenario", "test", "create_users:create_users")
    signin = project.run("--hide-constant-logs", "scenario", "test", "signin:my_scenario")

    def lines(name):
        path = project.path / name
        return path.read_text().splitlines() if path.exists() else []

    return {
        "project": project,
        "creation": creation,
        "signin": signin,
        "created": lines("created.txt"),
        "signed_in": lines("signed_in.txt"),
    }


def test_creation_scenario_creates_one_user_per_datapool_item(walkthrough):
    assert walkthrough["creation"].returncode == 0, walkthrough["creation"].stderr
    created = walkthrough["created"]
    assert len(created) == NUMBER_OF_USERS
    assert len(set(created)) == NUMBER_OF_USERS
    assert all(re.fullmatch(r"[0-9a-f]{32}", username) for username in created)


def test_recorder_file_holds_exactly_the_created_users(walkthrough):
    users = walkthrough["project"].path / "recorder-data" / "users.msgpack"
    with open(users, "rb") as handle:
        records = list(msgpack.Unpacker(handle, raw=False))

    assert records == [{"username": username} for username in walkthrough["created"]]


def test_signin_scenario_waits_for_users_when_volume_exceeds_them(walkthrough):
    signin = walkthrough["signin"]

    assert signin.returncode == 0, signin.stderr
    assert signin.error_lines == []
    assert len(walkthrough["signed_in"]) > NUMBER_OF_USERS


def test_signin_journeys_use_exactly_the_created_usernames(walkthrough):
    assert walkthrough["signed_in"]
    assert set(walkthrough["signed_in"]) == set(walkthrough["created"])

"""The signin journey of the seed document, reading the users the creation scenario recorded.

The seed's code, with its plain typos fixed (docs/differences.md lists them): ``Unpacker`` is
imported, the recorder file (not the directory) is opened, and the scenario returns the
datapool by the name it was given. ``my_scenario`` runs until stopped, as in the seed;
``walkthrough_scenario`` is the same for a bounded time.

    mite scenario test my_file:walkthrough_scenario --add-to-config=app_url:http://127.0.0.1:8000
"""

from msgpack import Unpacker

from mite.datapools import RecyclableIterableDataPool
from mite.volume_model import Constant
from mite_http import mite_http

usernames = []
with open("recorder-data/users.msgpack", "rb") as handle:
    for msg in iter(Unpacker(handle, raw=False, use_list=False)):
        usernames.append((msg["username"],))

username_datapool = RecyclableIterableDataPool(usernames)


@mite_http
async def signin(ctx, username):
    async with ctx.transaction("Log in"):
        await ctx.http.post(
            ctx.config.get("app_url") + "/login",
            json={"username": username, "password": "test1234"},
        )


def my_scenario():
    return [["my_file:signin", username_datapool, lambda start, end: 100]]


def walkthrough_scenario(config):
    """``my_scenario`` for ``duration`` seconds (default 10)."""
    duration = int(config.get("duration", 10))
    return [["my_file:signin", username_datapool, Constant(duration=duration, tps=100)]]

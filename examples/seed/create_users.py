"""The data-creation journey of the seed document ("Writing mite journeys and scenarios"),
fixed only where the document has plain typos (see docs/differences.md, "The seed's own
examples"): the parameter is named ``ctx``, the body already uses that name.

    mite scenario test create_users:scenario --add-to-config=app_url:http://127.0.0.1:8000
"""

import uuid

from mite.datapools import IterableDataPool
from mite_http import mite_http


@mite_http
async def create_user(ctx):
    username = uuid.uuid4().hex
    async with ctx.transaction("Create user"):
        await ctx.http.post(
            ctx.config.get("app_url") + "/users/create",
            json={"username": username, "password": "test1234"},
        )
        await ctx.send("data_created", name="users", data={"username": username})


def scenario(config, sender):
    """Creates exactly ``users`` users (default 200): as the seed's note suggests, a
    non-recyclable datapool gives a precise count. Old recordings are purged first."""
    if config.get("app_url") is None:
        config.set("app_url", "http://127.0.0.1:8000")
    sender.send({"type": "purge_data", "name": "users"})
    count = int(config.get("users", 200))
    return [["create_users:create_user", IterableDataPool([()] * count), lambda start, end: 20]]

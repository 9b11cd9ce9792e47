"""A fixed amount of work, for instruction counts (bench/instructions): the run ends when its
datapool of ``N_JOURNEYS`` items is used up, however fast or slow the machine is.

    N_JOURNEYS=1000 mite scenario test fixed_work:scenario_a --add-to-config=bench_url:URL
"""

import os

from mite.datapools import IterableDataPool
from mite.volume_model import Constant
from mite_http import mite_http

# Requests per journey of scenario_b.
LOOP = 200


@mite_http
async def one_request(ctx, n):
    """As shape (a): one request per journey, in a transaction."""
    async with ctx.transaction("Request"):
        await ctx.http.get(ctx.config.get("bench_url"))


@mite_http
async def looping(ctx, n):
    """As shape (b), shorter: a journey looping over LOOP requests."""
    url = ctx.config.get("bench_url")
    for _ in range(LOOP):
        await ctx.http.get(url)


def _pool():
    return IterableDataPool((i,) for i in range(int(os.environ["N_JOURNEYS"])))


def scenario_a():
    return [("fixed_work:one_request", _pool(), Constant(tps=50, duration=100_000))]


def scenario_b():
    return [("fixed_work:looping", _pool(), Constant(tps=50, duration=100_000))]

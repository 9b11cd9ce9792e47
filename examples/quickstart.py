"""A first mite scenario that needs no server: journeys that sleep, record data and fail now
and then.

    mite scenario test examples.quickstart:scenario --max-errors-threshold=1000
"""

import asyncio
import random

from mite import MiteError, ensure_fixed_separation
from mite.datapools import IterableDataPool
from mite.volume_model import Constant, Ramp

customers = IterableDataPool((f"customer-{n}",) for n in range(100_000))


async def browse(ctx, customer):
    async with ensure_fixed_separation(0.5):
        async with ctx.transaction("Browse"):
            await asyncio.sleep(random.uniform(0.01, 0.05))
            if random.random() < 0.01:
                raise MiteError("out of stock", customer=customer)
            ctx.send("data_created", name="customers", data={"customer": customer})


def scenario():
    return [
        (
            "examples.quickstart:browse",
            customers,
            Ramp(duration=3, frm=0) + Constant(duration=5, tps=50),
        ),
    ]

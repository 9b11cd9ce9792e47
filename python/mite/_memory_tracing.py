"""``--memory-tracing``: log the biggest allocation changes every 60 seconds (tracemalloc)."""

import asyncio
import logging
import tracemalloc

logger = logging.getLogger("mite.memory_tracing")

INTERVAL_SECONDS = 60
TOP = 10


async def _report_forever():
    first = tracemalloc.take_snapshot()
    previous = first
    while True:
        await asyncio.sleep(INTERVAL_SECONDS)
        current = tracemalloc.take_snapshot()
        for title, base in (("since start", first), ("since last report", previous)):
            lines = [str(stat) for stat in current.compare_to(base, "lineno")[:TOP]]
            logger.info("Top %d allocation changes %s:\n%s", TOP, title, "\n".join(lines))
        previous = current


def start(loop):
    """Starts tracing and the periodic report on ``loop``; returns the task to cancel."""
    tracemalloc.start()
    return loop.create_task(_report_forever())

"""Keep successive steps of a journey a minimum time apart.

``async with ensure_fixed_separation(5): ...`` makes the block take at least 5 seconds: on
exit it sleeps for whatever part of the 5 seconds the block did not use. It sleeps on the way
out of an exception too, and lets the exception through.
"""

import random
import time

import mite.utils

__all__ = [
    "ensure_average_separation",
    "ensure_fixed_separation",
    "ensure_separation_from_callable",
]


class ensure_separation_from_callable:
    """Async context manager that pads its block out to ``sep_callable()`` seconds.

    ``sep_callable`` is called on each exit, so it may return a different separation each time.
    ``loop`` is accepted for compatibility and ignored.
    """

    def __init__(self, sep_callable, loop=None):
        self._sep_callable = sep_callable
        self._start = None

    async def __aenter__(self):
        self._start = time.time()

    async def __aexit__(self, exc_type, exc, tb):
        remaining = self._sep_callable() - (time.time() - self._start)
        if remaining > 0:
            # Looked up on the module at call time so that replacing mite.utils.sleep works.
            await mite.utils.sleep(remaining)
        return False


def ensure_fixed_separation(separation):
    """Make an ``async with`` block last at least ``separation`` seconds::

    async with ensure_fixed_separation(5):
        await do_something()
    """
    return ensure_separation_from_callable(lambda: separation)


def ensure_average_separation(mean_separation, plus_minus=None):
    """Like ``ensure_fixed_separation``, with a separation drawn afresh on each exit.

    The separation is uniform in ``[mean_separation - plus_minus, mean_separation + plus_minus]``;
    ``plus_minus`` defaults to a quarter of ``mean_separation``::

        async with ensure_average_separation(5, plus_minus=1):
            await do_something()
    """
    if plus_minus is None:
        plus_minus = 0.25 * mean_separation

    def separation():
        return random.uniform(mean_separation - plus_minus, mean_separation + plus_minus)

    return ensure_separation_from_callable(separation)

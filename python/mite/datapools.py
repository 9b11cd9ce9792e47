"""Datapools: where journeys get their arguments.

The built-in pools are native classes (the scheduler checks items in and out without calling
Python); they keep mite's async protocol for code that uses them directly:
``item = await pool.checkout(config)`` / ``await pool.checkin(item.id)``.
"""

from collections import namedtuple

from mite._mite import IterableDataPool, RecyclableIterableDataPool, SingleRunDataPool
from mite.exceptions import DataPoolExhausted

DataPoolItem = namedtuple("DataPoolItem", ["id", "data"])


class SingleRunDataPoolWrapper:
    """Gives the first item of another datapool once, then is exhausted."""

    def __init__(self, data_pool):
        self.has_ran = False
        self.data_pool = data_pool

    async def checkin(self, item_id):
        pass

    async def checkout(self, config=None):
        if self.has_ran:
            raise DataPoolExhausted()
        self.has_ran = True
        return await self.data_pool.checkout(config)


def iterable_datapool(fn):
    """Decorator: the function is called now and its result becomes an IterableDataPool."""
    return IterableDataPool(fn())


def recyclable_iterable_datapool(fn):
    """Decorator: the function is called now; its result becomes a RecyclableIterableDataPool."""
    return RecyclableIterableDataPool(fn())


__all__ = [
    "DataPoolExhausted",
    "DataPoolItem",
    "IterableDataPool",
    "RecyclableIterableDataPool",
    "SingleRunDataPool",
    "SingleRunDataPoolWrapper",
    "iterable_datapool",
    "recyclable_iterable_datapool",
]

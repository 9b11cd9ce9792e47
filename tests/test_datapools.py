import asyncio
import logging

import pytest

from mite.datapools import (
    DataPoolExhausted,
    DataPoolItem,
    IterableDataPool,
    RecyclableIterableDataPool,
    SingleRunDataPool,
    SingleRunDataPoolWrapper,
    iterable_datapool,
    recyclable_iterable_datapool,
)

EMPTIED = "Recyclable iterable datapool was emptied!"


def checkout(pool, *args, **kwargs):
    """``await pool.checkout(...)`` on a fresh event loop; ``config=None`` unless given."""
    if not args and not kwargs:
        args = (None,)

    async def go():
        return await pool.checkout(*args, **kwargs)

    return asyncio.run(go())


def checkin(pool, item_id):
    async def go():
        return await pool.checkin(item_id)

    return asyncio.run(go())


def recording_generator(items, consumed):
    """Yields ``items``, appending each to ``consumed`` as it is produced."""
    for item in items:
        consumed.append(item)
        yield item


# DataPoolItem


def test_data_pool_item_is_a_namedtuple_of_id_and_data():
    item = DataPoolItem(3, ("alice",))

    assert isinstance(item, tuple)
    assert DataPoolItem._fields == ("id", "data")
    assert (item.id, item.data) == (3, ("alice",))


# RecyclableIterableDataPool


def test_recyclable_pool_does_not_consume_its_iterable_before_first_checkout():
    consumed = []

    RecyclableIterableDataPool(recording_generator([("a",), ("b",)], consumed))

    assert consumed == []


def test_recyclable_pool_reads_the_whole_iterable_at_first_checkout():
    consumed = []
    pool = RecyclableIterableDataPool(recording_generator([("a",), ("b",), ("c",)], consumed))

    checkout(pool)

    assert consumed == [("a",), ("b",), ("c",)]


def test_recyclable_pool_generator_error_surfaces_at_first_checkout():
    def broken():
        yield ("a",)
        raise ValueError("cannot read users")

    pool = RecyclableIterableDataPool(broken())

    with pytest.raises(ValueError, match="cannot read users"):
        checkout(pool)


def test_recyclable_pool_checkout_returns_a_data_pool_item():
    pool = RecyclableIterableDataPool([("a",)])

    assert type(checkout(pool)) is DataPoolItem


def test_recyclable_pool_ids_are_0_based_positions():
    pool = RecyclableIterableDataPool([("a",), ("b",)])

    assert checkout(pool) == DataPoolItem(0, ("a",))
    assert checkout(pool) == DataPoolItem(1, ("b",))


def test_recyclable_pool_hands_out_items_in_order():
    pool = RecyclableIterableDataPool(["a", "b", "c"])

    assert [checkout(pool).data for _ in range(3)] == ["a", "b", "c"]


def test_recyclable_pool_recycles_round_robin_with_checkin():
    pool = RecyclableIterableDataPool(["a", "b", "c"])
    handed_out = []

    for _ in range(7):
        item = checkout(pool)
        handed_out.append(item.data)
        checkin(pool, item.id)

    assert handed_out == ["a", "b", "c", "a", "b", "c", "a"]


def test_recyclable_pool_checkin_puts_the_id_at_the_back_of_the_queue():
    pool = RecyclableIterableDataPool(["a", "b", "c"])
    first, second = checkout(pool), checkout(pool)

    checkin(pool, second.id)
    checkin(pool, first.id)

    assert [checkout(pool).id for _ in range(3)] == [2, 1, 0]


def test_recyclable_pool_checkout_with_every_item_out_raises_plain_exception():
    pool = RecyclableIterableDataPool(["a"])
    checkout(pool)

    with pytest.raises(Exception) as caught:
        checkout(pool)

    assert type(caught.value) is Exception
    assert caught.value.args == (EMPTIED,)


def test_recyclable_pool_with_an_empty_iterable_raises_at_first_checkout():
    pool = RecyclableIterableDataPool([])

    with pytest.raises(Exception, match=EMPTIED) as caught:
        checkout(pool)

    assert not isinstance(caught.value, DataPoolExhausted)


def test_recyclable_pool_checkin_before_first_checkout_logs_an_error(caplog):
    pool = RecyclableIterableDataPool(["a"])

    with caplog.at_level(logging.ERROR, logger="mite.datapools"):
        result = checkin(pool, 3)

    assert result is None
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "mite.datapools",
            "ERROR",
            f"{pool!r}: checkin called for 3 before the datapool was initialized!  "
            "Maybe a stale runner is hanging around",
        )
    ]


def test_recyclable_pool_refuses_an_item_that_is_not_checked_out(caplog):
    # mite would queue the id twice and hand the item to two journeys at once.
    pool = RecyclableIterableDataPool(["a", "b"])
    first = checkout(pool)
    checkin(pool, first.id)

    with caplog.at_level(logging.ERROR, logger="mite.datapools"):
        checkin(pool, first.id)
        checkin(pool, 7)

    assert [r.getMessage() for r in caplog.records] == [
        f"{pool!r}: checkin refused: item 0 was not checked out",
        f"{pool!r}: checkin refused: item 7 is not one of the pool's 2 items",
    ]
    assert [checkout(pool).data for _ in range(2)] == ["b", "a"]
    with pytest.raises(Exception, match=EMPTIED):
        checkout(pool)


def test_recyclable_pool_checkin_before_first_checkout_does_not_queue_the_id(caplog):
    pool = RecyclableIterableDataPool(["a", "b"])

    with caplog.at_level(logging.CRITICAL, logger="mite.datapools"):
        checkin(pool, 0)

    assert [checkout(pool).id for _ in range(2)] == [0, 1]
    with pytest.raises(Exception, match=EMPTIED):
        checkout(pool)


# IterableDataPool


def test_iterable_pool_ids_are_1_based():
    pool = IterableDataPool([("a",), ("b",)])

    assert checkout(pool) == DataPoolItem(1, ("a",))
    assert checkout(pool) == DataPoolItem(2, ("b",))


def test_iterable_pool_checkout_returns_a_data_pool_item():
    assert type(checkout(IterableDataPool(["a"]))) is DataPoolItem


def test_iterable_pool_raises_data_pool_exhausted_after_the_last_item():
    pool = IterableDataPool(["a"])
    checkout(pool)

    with pytest.raises(DataPoolExhausted):
        checkout(pool)


def test_iterable_pool_stays_exhausted():
    pool = IterableDataPool(["a"])
    checkout(pool)
    with pytest.raises(DataPoolExhausted):
        checkout(pool)

    with pytest.raises(DataPoolExhausted):
        checkout(pool)


def test_iterable_pool_exhaustion_escapes_except_exception():
    pool = IterableDataPool([])

    async def journey_code():
        try:
            await pool.checkout(None)
        except Exception:
            return "caught"

    with pytest.raises(DataPoolExhausted):
        asyncio.run(journey_code())


def test_iterable_pool_checkin_does_not_hand_an_item_out_again():
    pool = IterableDataPool(["a", "b"])
    first = checkout(pool)

    assert checkin(pool, first.id) is None

    assert checkout(pool) == DataPoolItem(2, "b")
    with pytest.raises(DataPoolExhausted):
        checkout(pool)


def test_iterable_pool_calls_iter_at_construction():
    with pytest.raises(TypeError):
        IterableDataPool(5)


def test_iterable_pool_runs_a_generator_only_as_items_are_checked_out():
    consumed = []
    pool = IterableDataPool(recording_generator(["a", "b", "c"], consumed))
    assert consumed == []

    checkout(pool)

    assert consumed == ["a"]


# SingleRunDataPool


def test_single_run_pool_starts_not_ran_and_keeps_its_data_item():
    pool = SingleRunDataPool("alice")

    assert pool.has_ran is False
    assert pool.data_item == "alice"


def test_single_run_pool_gives_its_item_wrapped_in_a_1_tuple_with_id_1():
    pool = SingleRunDataPool("alice")

    item = checkout(pool)

    assert type(item) is DataPoolItem
    assert item == DataPoolItem(1, ("alice",))
    assert pool.has_ran is True


def test_single_run_pool_is_exhausted_after_one_checkout():
    pool = SingleRunDataPool("alice")
    checkout(pool)

    with pytest.raises(DataPoolExhausted):
        checkout(pool)


def test_single_run_pool_checkin_does_not_hand_the_item_out_again():
    pool = SingleRunDataPool("alice")
    item = checkout(pool)

    assert checkin(pool, item.id) is None

    with pytest.raises(DataPoolExhausted):
        checkout(pool)


# SingleRunDataPoolWrapper


def test_single_run_wrapper_starts_not_ran_and_keeps_the_wrapped_pool():
    inner = RecyclableIterableDataPool(["a"])
    wrapper = SingleRunDataPoolWrapper(inner)

    assert wrapper.has_ran is False
    assert wrapper.data_pool is inner


def test_single_run_wrapper_gives_the_wrapped_pools_first_item():
    wrapper = SingleRunDataPoolWrapper(RecyclableIterableDataPool([("a",), ("b",)]))

    assert checkout(wrapper) == DataPoolItem(0, ("a",))
    assert wrapper.has_ran is True


def test_single_run_wrapper_is_exhausted_after_one_checkout():
    wrapper = SingleRunDataPoolWrapper(RecyclableIterableDataPool([("a",), ("b",)]))
    checkout(wrapper)

    with pytest.raises(DataPoolExhausted):
        checkout(wrapper)


def test_single_run_wrapper_passes_config_to_the_wrapped_pool():
    seen = []

    class ConfigRecordingPool:
        async def checkout(self, config):
            seen.append(config)
            return DataPoolItem(1, ("a",))

        async def checkin(self, item_id):
            pass

    config = {"app_url": "x"}

    checkout(SingleRunDataPoolWrapper(ConfigRecordingPool()), config=config)

    assert seen == [config]


# decorators


def test_iterable_datapool_decorator_calls_the_function_at_once():
    calls = []

    @iterable_datapool
    def users():
        calls.append("called")
        return [("alice",), ("bob",)]

    assert calls == ["called"]
    assert isinstance(users, IterableDataPool)
    assert checkout(users) == DataPoolItem(1, ("alice",))


def test_recyclable_iterable_datapool_decorator_calls_the_function_at_once():
    calls = []

    @recyclable_iterable_datapool
    def users():
        calls.append("called")
        return [("alice",), ("bob",)]

    assert calls == ["called"]
    assert isinstance(users, RecyclableIterableDataPool)
    assert checkout(users) == DataPoolItem(0, ("alice",))


# the checkout protocol


POOLS = {
    "recyclable": lambda: RecyclableIterableDataPool([("a",)]),
    "iterable": lambda: IterableDataPool([("a",)]),
    "single_run": lambda: SingleRunDataPool("a"),
    "single_run_wrapper": lambda: SingleRunDataPoolWrapper(IterableDataPool([("a",)])),
}


@pytest.mark.parametrize("make_pool", POOLS.values(), ids=POOLS.keys())
def test_checkout_accepts_config_positionally(make_pool):
    assert checkout(make_pool(), {"key": "value"}).data == ("a",)


@pytest.mark.parametrize("make_pool", POOLS.values(), ids=POOLS.keys())
def test_checkout_accepts_config_by_keyword(make_pool):
    assert checkout(make_pool(), config={"key": "value"}).data == ("a",)


# subclassing


def test_recyclable_pool_subclass_can_override_checkout_and_call_super():
    class Tagged(RecyclableIterableDataPool):
        async def checkout(self, config):
            item = await super().checkout(config)
            return DataPoolItem(item.id, (*item.data, "tagged"))

    assert checkout(Tagged([("a",)])) == DataPoolItem(0, ("a", "tagged"))


def test_iterable_pool_subclass_can_add_attributes():
    class Named(IterableDataPool):
        pass

    pool = Named([("a",)])
    pool.name = "users"

    assert pool.name == "users"
    assert checkout(pool) == DataPoolItem(1, ("a",))


NATIVE_POOLS = {
    "iterable": (IterableDataPool, [("a",)], DataPoolItem(1, ("a",))),
    "recyclable": (RecyclableIterableDataPool, [("a",)], DataPoolItem(0, ("a",))),
    "single_run": (SingleRunDataPool, "a", DataPoolItem(1, ("a",))),
}


@pytest.mark.parametrize("base, arg, first", NATIVE_POOLS.values(), ids=NATIVE_POOLS.keys())
def test_pool_subclass_init_can_call_super_init(base, arg, first):
    class Labelled(base):
        def __init__(self, arg):
            super().__init__(arg)
            self.label = "users"

    pool = Labelled(arg)

    assert pool.label == "users"
    assert checkout(pool) == first


@pytest.mark.parametrize("base, arg, first", NATIVE_POOLS.values(), ids=NATIVE_POOLS.keys())
def test_pool_subclass_can_have_its_own_init_signature(base, arg, first):
    class Preset(base):
        def __init__(self, label, *, extra=None):
            super().__init__(arg)
            self.label = label

    pool = Preset("users", extra=1)

    assert pool.label == "users"
    assert checkout(pool) == first

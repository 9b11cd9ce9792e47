import asyncio
import time
import types

import pytest

import mite.separation
import mite.utils
from mite import (
    ensure_average_separation,
    ensure_fixed_separation,
    ensure_separation_from_callable,
)


class FakeClock:
    """Stands in for time.time and mite.utils.sleep: sleeping just moves the clock on."""

    def __init__(self):
        self.now = 1_000_000.0
        self.sleeps = []

    def time(self):
        return self.now

    async def sleep(self, delay, **kwargs):
        self.sleeps.append(delay)
        self.now += delay


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(mite.separation, "time", types.SimpleNamespace(time=fake.time))
    monkeypatch.setattr(mite.utils, "sleep", fake.sleep)
    return fake


def run_block(manager, clock, takes, raises=None):
    """Run one ``async with manager`` block that takes ``takes`` seconds of fake time."""

    async def body():
        async with manager:
            clock.now += takes
            if raises is not None:
                raise raises

    asyncio.run(body())


class Boom(Exception):
    pass


# ensure_fixed_separation


def test_fixed_separation_sleeps_for_the_rest_of_the_separation(clock):
    run_block(ensure_fixed_separation(5), clock, takes=2)

    assert clock.sleeps == [3]


def test_fixed_separation_does_not_sleep_when_the_block_took_longer(clock):
    run_block(ensure_fixed_separation(5), clock, takes=6)

    assert clock.sleeps == []


def test_fixed_separation_does_not_sleep_when_the_block_took_exactly_the_separation(clock):
    run_block(ensure_fixed_separation(5), clock, takes=5)

    assert clock.sleeps == []


def test_fixed_separation_sleeps_when_the_block_raises(clock):
    with pytest.raises(Boom):
        run_block(ensure_fixed_separation(5), clock, takes=1, raises=Boom())

    assert clock.sleeps == [4]


def test_separation_does_not_swallow_the_exception(clock):
    error = Boom("from the journey")

    with pytest.raises(Boom) as raised:
        run_block(ensure_fixed_separation(5), clock, takes=1, raises=error)

    assert raised.value is error


def test_separation_yields_none(clock):
    async def body():
        async with ensure_fixed_separation(1) as value:
            return value

    assert asyncio.run(body()) is None


def test_fixed_separation_really_waits():
    async def body():
        started = time.monotonic()
        async with ensure_fixed_separation(0.05):
            pass
        return time.monotonic() - started

    assert asyncio.run(body()) >= 0.04


# ensure_average_separation


def uniform_recorder(monkeypatch, results):
    """Replace the random draw; returns the list of (low, high) it was called with."""
    calls = []
    values = iter(results)

    def uniform(low, high):
        calls.append((low, high))
        return next(values)

    monkeypatch.setattr(mite.separation, "random", types.SimpleNamespace(uniform=uniform))
    return calls


def test_average_separation_draws_within_a_quarter_of_the_mean_by_default(clock, monkeypatch):
    calls = uniform_recorder(monkeypatch, [4.5])

    run_block(ensure_average_separation(4), clock, takes=1)

    assert calls == [(3.0, 5.0)]
    assert clock.sleeps == [3.5]


def test_average_separation_draws_within_plus_minus(clock, monkeypatch):
    calls = uniform_recorder(monkeypatch, [9])

    run_block(ensure_average_separation(10, plus_minus=2), clock, takes=0)

    assert calls == [(8, 12)]


def test_average_separation_with_zero_plus_minus_is_fixed(clock, monkeypatch):
    calls = uniform_recorder(monkeypatch, [10])

    run_block(ensure_average_separation(10, plus_minus=0), clock, takes=0)

    assert calls == [(10, 10)]


def test_average_separation_draws_again_on_every_exit(clock, monkeypatch):
    uniform_recorder(monkeypatch, [3, 7])
    manager = ensure_average_separation(5)

    run_block(manager, clock, takes=0)
    run_block(manager, clock, takes=0)

    assert clock.sleeps == [3, 7]


def test_average_separation_stays_in_range(clock):
    manager = ensure_average_separation(10, plus_minus=2.5)

    for _ in range(50):
        run_block(manager, clock, takes=0)

    assert all(7.5 <= delay <= 12.5 for delay in clock.sleeps)
    assert len(set(clock.sleeps)) > 1


# ensure_separation_from_callable


def test_separation_callable_is_called_on_exit(clock):
    calls = []

    def separation():
        calls.append(clock.now)
        return 5

    run_block(ensure_separation_from_callable(separation), clock, takes=2)

    assert calls == [1_000_002.0]
    assert clock.sleeps == [3]


def test_separation_from_callable_accepts_and_ignores_a_loop(clock):
    run_block(ensure_separation_from_callable(lambda: 5, loop=object()), clock, takes=1)

    assert clock.sleeps == [4]

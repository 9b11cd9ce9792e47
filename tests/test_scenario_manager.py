"""mite.scenario.ScenarioManager: mite's work-request API for controllers."""

import asyncio
import logging

import pytest

from mite.datapools import IterableDataPool, RecyclableIterableDataPool
from mite.scenario import ScenarioManager, StopVolumeModel


def _get_work(manager, current=None, runner_current=0, runners=1, self_limit=None, hit_rate=0):
    return asyncio.run(
        manager.get_work(current or {}, runner_current, runners, self_limit, hit_rate)
    )


def test_scenarios_get_ids_from_one_and_are_logged(caplog):
    manager = ScenarioManager()
    with caplog.at_level(logging.INFO, logger="mite.scenario"):
        manager.add_scenario("m:a", None, lambda s, e: 1)
        manager.add_scenario("m:b", None, lambda s, e: 2)
    assert manager.get_required_work() == {1: 1, 2: 2}
    assert "Added scenario id=2 journey_spec='m:b' datapool=None" in caplog.text


def test_volume_models_are_called_with_the_period_window():
    calls = []
    manager = ScenarioManager(period=1)
    manager.add_scenario("m:a", None, lambda s, e: calls.append((s, e)) or 1)
    manager.get_required_work()
    manager.get_required_work()
    assert calls == [(0, 1)]


def test_work_fills_the_gap_between_required_and_current():
    manager = ScenarioManager()
    manager.add_scenario("m:a", None, lambda s, e: 5)
    work, volume = _get_work(manager, current={1: 3}, runner_current=3)
    assert work == [(1, None, "m:a", None)] * 2
    assert volume == {1: 2}


def test_datapool_items_become_work_and_exhaustion_removes_the_scenario(caplog):
    manager = ScenarioManager()
    manager.add_scenario("m:a", IterableDataPool([("x",)]), lambda s, e: 3)
    with caplog.at_level(logging.INFO, logger="mite.scenario"):
        work, _ = _get_work(manager)
    assert work == [(1, 1, "m:a", ("x",))]
    assert not manager.is_active()
    assert "Removed scenario 1 because data pool exhausted" in caplog.text


def test_stop_volume_model_removes_the_scenario():
    def model(start, end):
        raise StopVolumeModel

    manager = ScenarioManager()
    manager.add_scenario("m:a", None, model)
    assert manager.get_required_work() == {}
    assert not manager.is_active()


def test_the_runner_share_limits_work_across_runners():
    manager = ScenarioManager()
    manager.add_scenario("m:a", None, lambda s, e: 10)
    work, _ = _get_work(manager, runners=2)
    assert len(work) == 5


def test_runner_self_limit_caps_a_runners_journeys():
    manager = ScenarioManager()
    manager.add_scenario("m:a", None, lambda s, e: 10)
    work, _ = _get_work(manager, runner_current=2, self_limit=3)
    assert len(work) == 1


def test_the_start_delay_holds_back_work():
    manager = ScenarioManager(start_delay=60)
    manager.add_scenario("m:a", None, lambda s, e: 10)
    assert _get_work(manager) == ([], {})
    assert manager.is_active()


def test_checkin_returns_items_to_the_pool():
    pool = RecyclableIterableDataPool([("a",)])
    manager = ScenarioManager()
    manager.add_scenario("m:a", pool, lambda s, e: 1)
    work, _ = _get_work(manager)
    assert work == [(1, 0, "m:a", ("a",))]
    asyncio.run(manager.checkin_data([(1, 0)]))
    item = asyncio.run(pool.checkout(None))
    assert item.id == 0


@pytest.mark.parametrize("hit_rate, expected", [(0, 10), (50, 2)])
def test_spawn_rate_divides_by_the_hit_rate(hit_rate, expected):
    manager = ScenarioManager(spawn_rate=100)
    manager.add_scenario("m:a", None, lambda s, e: 10)
    work, _ = _get_work(manager, hit_rate=hit_rate)
    assert len(work) == expected

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


@pytest.mark.parametrize("hit_rate", [0, 50, 10_000])
def test_spawn_rate_limits_growth_whatever_the_request_rate(hit_rate):
    # One rule with the CLI's runs: total concurrency grows by at most spawn_rate journeys per
    # second (one may start at once); mite divided by the work-request rate instead.
    manager = ScenarioManager(spawn_rate=0.001)
    manager.add_scenario("m:a", None, lambda s, e: 10)
    work, _ = _get_work(manager, hit_rate=hit_rate)
    assert len(work) == 1


def test_a_finished_journeys_slot_is_refilled_at_once_under_a_spawn_rate():
    manager = ScenarioManager(spawn_rate=0.001)
    manager.add_scenario("m:a", None, lambda s, e: 10)
    assert len(_get_work(manager)[0]) == 1
    # The journey finished (current work is 0 again): its slot is not growth.
    assert len(_get_work(manager, current={1: 0})[0]) == 1
    assert _get_work(manager, current={1: 1}, runner_current=1) == ([], {})


def test_work_is_spread_round_robin_across_scenarios():
    manager = ScenarioManager()
    manager.add_scenario("m:a", None, lambda s, e: 2)
    manager.add_scenario("m:b", None, lambda s, e: 2)
    work, volume = _get_work(manager)
    assert sorted(w[0] for w in work) == [1, 1, 2, 2]
    assert volume == {1: 2, 2: 2}
    assert {w[0] for w in work[:2]} == {1, 2}


def test_a_failing_volume_model_raises_its_own_exception():
    def model(start, end):
        raise ZeroDivisionError("broken model")

    manager = ScenarioManager()
    manager.add_scenario("m:a", None, model)
    with pytest.raises(ZeroDivisionError, match="broken model"):
        manager.get_required_work()

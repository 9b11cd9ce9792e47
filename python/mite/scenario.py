"""Scenarios: which journeys run, with which data, at what concurrency.

A scenario function returns ``(journey_spec, datapool, volume_model)`` triples; the
``ScenarioManager`` turns them into units of work for the runners.
"""

import logging
import random
import time
from collections import namedtuple
from itertools import count

from mite.exceptions import DataPoolExhausted

logger = logging.getLogger(__name__)

__all__ = ["Scenario", "ScenarioManager", "StopScenario", "StopVolumeModel"]


class StopVolumeModel(Exception):
    """Raised by a volume model to end its scenario."""


# Older journey files still import the exception under this name.
StopScenario = StopVolumeModel

Scenario = namedtuple("Scenario", ["journey_spec", "datapool", "volumemodel"])


class ScenarioManager:
    """mite's controller-side bookkeeping of scenarios, for runners that ask for work.

    ``mite scenario test`` schedules in the native runner; this class keeps mite's API and
    semantics for code (and distributed controllers) that drive work requests themselves.
    One difference: ``runner_self_limit`` (``--runner-max-journeys``, the most journeys a
    runner wants running) is honoured, where mite computed it and then ignored it.
    """

    def __init__(self, start_delay=0, period=1, spawn_rate=None, config_manager=None):
        self._period = period
        self._ids = count(1)
        self._in_start = start_delay > 0
        self._start_delay = start_delay
        self._start_time = time.time()
        self._current_period_end = 0
        self._spawn_rate = spawn_rate
        self._required = {}
        self._scenarios = {}
        self._config_manager = config_manager

    def _now(self):
        return time.time() - self._start_time

    def add_scenario(self, journey_spec, datapool, volumemodel):
        scenario_id = next(self._ids)
        self._scenarios[scenario_id] = Scenario(journey_spec, datapool, volumemodel)
        logger.info(
            "Added scenario id=%d journey_spec=%r datapool=%r volumemodel=%r",
            scenario_id,
            journey_spec,
            datapool,
            volumemodel,
        )

    def _remove(self, scenario_id, why, all_gone_text):
        logger.info("Removed scenario %d because %s", scenario_id, why)
        del self._scenarios[scenario_id]
        if not self._scenarios:
            logger.info(all_gone_text)

    def _evaluate(self, start, end):
        required = {}
        for scenario_id, scenario in list(self._scenarios.items()):
            try:
                required[scenario_id] = int(scenario.volumemodel(start, end))
            except StopVolumeModel:
                self._remove(
                    scenario_id,
                    "volume model raised StopVolumeModel",
                    "All scenarios have been removed from scenario tracker",
                )
        self._current_period_end = end
        self._required = required

    def get_required_work(self):
        """``{scenario_id: concurrency}``, re-evaluated when a period has ended."""
        if self._in_start:
            if self._now() <= self._start_delay:
                return self._required
            self._in_start = False
            self._start_time = time.time()
        now = self._now()
        if now >= self._current_period_end:
            self._evaluate(self._current_period_end, int(now + self._period))
        return self._required

    def _limit(self, required, num_runner_current_work, num_runners, runner_self_limit, hit_rate):
        share = sum(required.values()) / num_runners - num_runner_current_work
        limit = max(0, share)
        if runner_self_limit is not None:
            limit = min(limit, max(0, runner_self_limit - num_runner_current_work))
        if self._spawn_rate is not None and hit_rate > 1:
            limit = min(limit, self._spawn_rate / hit_rate)
        fraction = limit % 1
        if fraction and fraction > random.random():
            limit += 1
        return int(limit)

    async def get_work(
        self, current_work, num_runner_current_work, num_runners, runner_self_limit, hit_rate
    ):
        """Work items ``(scenario_id, data_id, journey_spec, args)`` for one runner."""
        required = self.get_required_work()
        missing = dict(required)
        for scenario_id, running in current_work.items():
            if scenario_id in missing:
                missing[scenario_id] -= running
                if missing[scenario_id] < 1:
                    del missing[scenario_id]
        limit = self._limit(
            required, num_runner_current_work, num_runners, runner_self_limit, hit_rate
        )
        candidates = [sid for sid, n in missing.items() for _ in range(n)]
        random.shuffle(candidates)
        work = []
        handed_out = {}
        for scenario_id in candidates:
            if len(work) >= limit:
                break
            scenario = self._scenarios.get(scenario_id)
            if scenario is None:
                continue
            if scenario.datapool is None:
                work.append((scenario_id, None, scenario.journey_spec, None))
            else:
                try:
                    item = await scenario.datapool.checkout(config=self._config_manager)
                except DataPoolExhausted:
                    self._remove(
                        scenario_id,
                        "data pool exhausted",
                        "All scenarios removed from scenario tracker",
                    )
                    continue
                if item is None:
                    continue
                work.append((scenario_id, item.id, scenario.journey_spec, item.data))
            handed_out[scenario_id] = handed_out.get(scenario_id, 0) + 1
        return work, handed_out

    def is_active(self):
        """Still in the start delay, or some scenario is left."""
        return self._in_start or bool(self._scenarios)

    async def checkin_data(self, ids):
        """Returns ``(scenario_id, data_id)`` items to their scenarios' datapools."""
        for scenario_id, data_id in ids:
            scenario = self._scenarios.get(scenario_id)
            if scenario is not None:
                await scenario.datapool.checkin(data_id)

"""Scenarios: which journeys run, with which data, at what concurrency.

A scenario function returns ``(journey_spec, datapool, volume_model)`` triples; the
``ScenarioManager`` turns them into units of work for the runners.
"""

import logging
import random
from collections import namedtuple

from mite._mite import ScenarioSchedule
from mite.exceptions import DataPoolExhausted

logger = logging.getLogger(__name__)

__all__ = ["Scenario", "ScenarioManager", "StopScenario", "StopVolumeModel"]


class StopVolumeModel(Exception):
    """Raised by a volume model to end its scenario."""


# Older journey files still import the exception under this name.
StopScenario = StopVolumeModel

Scenario = namedtuple("Scenario", ["journey_spec", "datapool", "volumemodel"])


class ScenarioManager:
    """mite's controller-side bookkeeping of scenarios, for code that drives work requests.

    A view of the native scheduler (``mite._mite.ScenarioSchedule``), the one that
    ``mite scenario test`` and the controller use, so one set of rules holds everywhere: volume
    models evaluated once per period, the start delay, and ``spawn_rate`` as the most journeys
    per second by which total concurrency may grow (a finished journey's slot is refilled at
    once). mite divided ``spawn_rate`` by the controller's work-request rate instead, so
    ``hit_rate`` no longer changes the answer; it stays in the signature for callers.
    ``runner_self_limit`` (``--runner-max-journeys``, the most journeys a runner wants
    running) is honoured, where mite computed it and then ignored it.
    """

    def __init__(self, start_delay=0, period=1, spawn_rate=None, config_manager=None):
        self._schedule = ScenarioSchedule(
            float(start_delay), float(period), None if spawn_rate is None else float(spawn_rate)
        )
        self._scenarios = {}
        self._config_manager = config_manager

    def add_scenario(self, journey_spec, datapool, volumemodel):
        scenario_id = self._schedule.add_scenario(volumemodel)
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
        self._scenarios.pop(scenario_id, None)
        if not self._scenarios:
            logger.info(all_gone_text)

    def _removed_by_models(self, scenario_ids):
        for scenario_id in scenario_ids:
            self._remove(
                scenario_id,
                "volume model raised StopVolumeModel",
                "All scenarios have been removed from scenario tracker",
            )

    def _update_required_and_period(self, start_of_period, end_of_period):
        """Evaluates the volume models for one window now (mite's name, used by its tests)."""
        self._removed_by_models(self._schedule.evaluate(start_of_period, end_of_period))

    @property
    def _required(self):
        return self._schedule.required()

    @_required.setter
    def _required(self, required):
        self._schedule.set_required(dict(required))

    def get_required_work(self):
        """``{scenario_id: concurrency}``, re-evaluated when a period has ended."""
        self._removed_by_models(self._schedule.refresh())
        return self._schedule.required()

    @staticmethod
    def _share(required, num_runner_current_work, num_runners, runner_self_limit):
        """This runner's share of the total, less what it runs, rounded as mite rounds."""
        share = sum(required.values()) / max(1, num_runners) - num_runner_current_work
        limit = max(0, share)
        if runner_self_limit is not None:
            limit = min(limit, max(0, runner_self_limit - num_runner_current_work))
        fraction = limit % 1
        if fraction and fraction > random.random():
            limit += 1
        return int(limit)

    async def get_work(
        self, current_work, num_runner_current_work, num_runners, runner_self_limit, hit_rate
    ):
        """Work items ``(scenario_id, data_id, journey_spec, args)`` for one runner, and how
        many were handed out per scenario. ``current_work`` is ``{scenario_id: running}``
        across every runner."""
        required = self.get_required_work()
        cap = self._share(required, num_runner_current_work, num_runners, runner_self_limit)
        work = []
        handed_out = {}
        for scenario_id in self._schedule.plan(dict(current_work), cap):
            scenario = self._scenarios.get(scenario_id)
            if scenario is None:
                continue
            if scenario.datapool is None:
                work.append((scenario_id, None, scenario.journey_spec, None))
            else:
                try:
                    item = await scenario.datapool.checkout(config=self._config_manager)
                except DataPoolExhausted:
                    if self._schedule.exhaust(scenario_id):
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
        return self._schedule.is_active()

    async def checkin_data(self, ids):
        """Returns ``(scenario_id, data_id)`` items to their scenarios' datapools."""
        for scenario_id, data_id in ids:
            scenario = self._scenarios.get(scenario_id)
            if scenario is not None and scenario.datapool is not None:
                await scenario.datapool.checkin(data_id)

"""Scenarios: which journeys run, with which data, at what concurrency.

A scenario function returns ``(journey_spec, datapool, volume_model)`` triples; the
``ScenarioManager`` turns them into units of work for the runners.
"""

from collections import namedtuple

__all__ = ["Scenario", "StopScenario", "StopVolumeModel"]


class StopVolumeModel(Exception):
    """Raised by a volume model to end its scenario."""


# Older journey files still import the exception under this name.
StopScenario = StopVolumeModel

Scenario = namedtuple("Scenario", ["journey_spec", "datapool", "volumemodel"])

try:
    # Native: the scenario manager runs on every controller tick, so it lives in the Rust core.
    from mite._mite import ScenarioManager  # noqa: E402, F401
except ImportError:
    pass
else:
    __all__.append("ScenarioManager")

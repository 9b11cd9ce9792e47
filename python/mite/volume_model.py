"""Volume models: how many journeys of a scenario should be running at once, over time.

A volume model is any callable ``vm(start, end)`` that returns a number; ``start`` and ``end``
are seconds since the test started. The number is a concurrency target, not a rate, even where
a name says ``tps``. Raising ``StopVolumeModel`` ends the scenario.

The classes here are a small DSL for the common shapes, chained with ``+``::

    Ramp(duration=10, frm=0) + Constant(duration=60, tps=20) + Ramp(duration=10, to=0)

A ``Ramp`` in a chain takes its missing end points from its neighbours. Mistakes in a chain are
reported on the first call, not when the chain is built.

Arrival-rate models (mite-rs) say how many journeys to *start* per second instead, whatever the
target's speed, so a slow target cannot lower the offered load (an open model)::

    RampRate(duration=10, frm=0) + ConstantRate(duration=60, rate=50, max_journeys=500)

Each returns an ``ArrivalRate`` per period; any volume model may return one. A start due while
the scenario already runs ``max_journeys`` journeys is dropped and counted, never queued.
Concurrency and rate models cannot be chained together; ``Nothing`` goes in either chain.
"""

from dataclasses import InitVar, dataclass, field

from mite.scenario import StopVolumeModel

__all__ = [
    "ArrivalRate",
    "Compound",
    "Constant",
    "ConstantRate",
    "Nothing",
    "Ramp",
    "RampRate",
    "oneshot_vm",
]

#: The most journeys of an arrival-rate scenario running at once, unless the model says.
DEFAULT_MAX_JOURNEYS = 1000


@dataclass(frozen=True)
class ArrivalRate:
    """What an arrival-rate model asks for over one period ``(start, end)``.

    ``per_second`` journey starts per second at ``start``, changing linearly to ``until`` at
    ``end`` (``None``: the same rate throughout); never more than ``max_journeys`` of the
    scenario's journeys running at once.
    """

    per_second: float
    max_journeys: int = DEFAULT_MAX_JOURNEYS
    until: float | None = None

    def __post_init__(self):
        for name in ("per_second", "until"):
            value = getattr(self, name)
            if value is None and name == "until":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"ArrivalRate {name} must be a number of starts per second >= 0")
        if isinstance(self.max_journeys, bool) or not isinstance(self.max_journeys, int):
            raise ValueError("ArrivalRate max_journeys must be a whole number")
        if self.max_journeys < 1:
            raise ValueError("ArrivalRate max_journeys must be at least 1")


@dataclass
class _VolumeModel:
    """A model lasting ``duration`` seconds; called after that it raises ``StopVolumeModel``.

    The end is inclusive: a call with ``start == duration`` still returns a value.
    """

    duration: int

    def __call__(self, start, end):
        if start > self.duration:
            raise StopVolumeModel
        return self._value(start, end)

    def _value(self, start, end):
        raise NotImplementedError

    def __add__(self, other):
        if not isinstance(other, _VolumeModel):
            raise ValueError(f"Cannot add a {type(other)} to a volume model")
        kinds = {_kind(part) for part in _parts(self) + _parts(other)} - {None}
        if len(kinds) > 1:
            raise ValueError(
                "Cannot chain an arrival-rate model (ConstantRate, RampRate) with a "
                "concurrency model (Constant, Ramp)"
            )
        return Compound(0, self, other)


@dataclass
class Nothing(_VolumeModel):
    """No journeys for ``duration`` seconds."""

    def _value(self, start, end):
        return 0


@dataclass
class Constant(_VolumeModel):
    """``tps`` concurrent journeys for ``duration`` seconds."""

    tps: int

    def _value(self, start, end):
        return self.tps


@dataclass
class Ramp(_VolumeModel):
    """A linear change from ``frm`` to ``to`` over ``duration`` seconds; only valid in a chain.

    Only the first model of a chain may give ``frm`` (and must), only the last may give ``to``
    (and must); elsewhere they come from the neighbouring models.
    """

    to: int | None = None
    frm: int | None = None

    def _value(self, start, end):
        raise ValueError("Ramp was called outside of a compound volume model")


@dataclass
class _RateModel(_VolumeModel):
    """An arrival-rate model: its starts stop at ``duration`` (a period beginning there,
    still asked for because the end is inclusive, starts nothing)."""

    def __call__(self, start, end):
        if start > self.duration:
            raise StopVolumeModel
        if start >= self.duration > 0:
            return ArrivalRate(0, self.max_journeys)
        return self._value(start, end)


@dataclass
class ConstantRate(_RateModel):
    """``rate`` journey starts per second for ``duration`` seconds (mite-rs).

    At most ``max_journeys`` run at once; a start due beyond that is dropped and counted.
    """

    rate: float
    max_journeys: int = DEFAULT_MAX_JOURNEYS

    def _value(self, start, end):
        return ArrivalRate(self.rate, self.max_journeys)


@dataclass
class RampRate(_RateModel):
    """Starts per second changing linearly from ``frm`` to ``to`` over ``duration`` seconds
    (mite-rs). Like ``Ramp``, only valid in a chain, where missing end points come from
    the neighbouring models."""

    to: float | None = None
    frm: float | None = None
    max_journeys: int = DEFAULT_MAX_JOURNEYS

    def _value(self, start, end):
        raise ValueError("RampRate was called outside of a compound volume model")


@dataclass
class _RealisedRampRate(_RateModel):
    """A ``RampRate`` whose end points are known."""

    frm: float
    to: float
    max_journeys: int

    def _rate_at(self, t):
        return self.frm + (self.to - self.frm) * (min(max(t, 0), self.duration) / self.duration)

    def _value(self, start, end):
        return ArrivalRate(self._rate_at(start), self.max_journeys, until=self._rate_at(end))


def _kind(model):
    """ "rate", "concurrency", or None for a model that is neither (``Nothing``)."""
    if isinstance(model, Nothing):
        return None
    return "rate" if isinstance(model, _RateModel) else "concurrency"


def _level(value):
    # A neighbour's value: a number of journeys, or an ArrivalRate's starts per second.
    return value.per_second if isinstance(value, ArrivalRate) else value


@dataclass
class _RealisedRamp(_VolumeModel):
    """A ``Ramp`` whose end points are known; the value truncates toward zero."""

    frm: int
    to: int

    def _value(self, start, end):
        return int(self.frm + (self.to - self.frm) * (start / self.duration))


@dataclass
class Compound(_VolumeModel):
    """Models played one after another; made with ``+``, which also sets ``duration``.

    ``duration`` is the sum of the parts' durations, whatever value is passed in.
    """

    _left: InitVar[_VolumeModel]
    _right: InitVar[_VolumeModel]
    _components: tuple = field(init=False, default=())

    def __post_init__(self, _left, _right):
        self._components = _parts(_left) + _parts(_right)
        self.duration = sum(part.duration for part in self._components)
        # (start offset, model) pairs with the ramps realised; built on the first call.
        self._timeline = None

    def __call__(self, start, end):
        if self._timeline is None:
            self._timeline = self._realise()
        return super().__call__(start, end)

    def _value(self, start, end):
        offset, part = [entry for entry in self._timeline if entry[0] <= start][-1]
        return part(start - offset, end - offset)

    def _realise(self):
        timeline = []
        offset = 0
        for index, part in enumerate(self._components):
            if isinstance(part, (Ramp, RampRate)):
                part = self._realise_ramp(index, part, timeline)
            timeline.append((offset, part))
            offset += part.duration
        return timeline

    def _realise_ramp(self, index, ramp, timeline):
        name = type(ramp).__name__
        if index == 0:
            if ramp.frm is None:
                raise ValueError(
                    f"You must specify 'frm' on the first {name} in a chain of Volume Models"
                )
            frm = ramp.frm
        elif ramp.frm is not None:
            raise ValueError(
                "A ramp with 'frm' specified must be the first volume model in a chain"
            )
        else:
            previous = timeline[-1][1]
            # The value at its end, asked of the model itself: a rate model called there
            # would say 0 (its starts stop at its duration).
            frm = _level(previous._value(previous.duration, previous.duration))

        if index + 1 < len(self._components):
            # Evaluated before the check below, so two adjacent Ramps fail with the
            # "outside of a compound" error, as in mite.
            to = _level(self._components[index + 1](0, 1))
            if ramp.to is not None:
                raise ValueError(
                    "A ramp with 'to' specified must be the last volume model in a chain"
                )
        elif ramp.to is None:
            raise ValueError(
                f"You must specify 'to' on the final {name} in a chain of Volume Models"
            )
        else:
            to = ramp.to
        if isinstance(ramp, RampRate):
            return _RealisedRampRate(ramp.duration, frm, to, ramp.max_journeys)
        return _RealisedRamp(ramp.duration, frm, to)


def _parts(model):
    # Chains stay flat: adding a Compound adds its parts, not the Compound itself.
    return model._components if isinstance(model, Compound) else (model,)


def oneshot_vm(when=-1, stop_scenario=False):
    """A volume model asking for one journey, once, at the first call with ``start > when``.

    Before that it returns 0, or ends the scenario at once if ``stop_scenario`` is true (so
    ``stop_scenario=True`` with ``when >= 0`` never runs anything); after it, it ends the
    scenario. For a journey that really runs once, pair it with ``SingleRunDataPool``.
    """
    fired = False

    def volume_model(start, end):
        nonlocal fired
        if start > when and not fired:
            fired = True
            return 1
        if stop_scenario or fired:
            raise StopVolumeModel
        return 0

    volume_model.duration = when
    volume_model.tps = 1
    return volume_model

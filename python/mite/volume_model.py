"""Volume models: how many journeys of a scenario should be running at once, over time.

A volume model is any callable ``vm(start, end)`` that returns a number; ``start`` and ``end``
are seconds since the test started. The number is a concurrency target, not a rate, even where
a name says ``tps``. Raising ``StopVolumeModel`` ends the scenario.

The classes here are a small DSL for the common shapes, chained with ``+``::

    Ramp(duration=10, frm=0) + Constant(duration=60, tps=20) + Ramp(duration=10, to=0)

A ``Ramp`` in a chain takes its missing end points from its neighbours. Mistakes in a chain are
reported on the first call, not when the chain is built.
"""

from dataclasses import InitVar, dataclass, field

from mite.scenario import StopVolumeModel

__all__ = ["Compound", "Constant", "Nothing", "Ramp", "oneshot_vm"]


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
            if isinstance(part, Ramp):
                part = self._realise_ramp(index, part, timeline)
            timeline.append((offset, part))
            offset += part.duration
        return timeline

    def _realise_ramp(self, index, ramp, timeline):
        if index == 0:
            if ramp.frm is None:
                raise ValueError(
                    "You must specify 'frm' on the first Ramp in a chain of Volume Models"
                )
            frm = ramp.frm
        elif ramp.frm is not None:
            raise ValueError(
                "A ramp with 'frm' specified must be the first volume model in a chain"
            )
        else:
            previous = timeline[-1][1]
            frm = previous(previous.duration, 0)

        if index + 1 < len(self._components):
            # Evaluated before the check below, so two adjacent Ramps fail with the
            # "outside of a compound" error, as in mite.
            to = self._components[index + 1](0, 1)
            if ramp.to is not None:
                raise ValueError(
                    "A ramp with 'to' specified must be the last volume model in a chain"
                )
        elif ramp.to is None:
            raise ValueError("You must specify 'to' on the final Ramp in a chain of Volume Models")
        else:
            to = ramp.to
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

import dataclasses
import re

import pytest

from mite.scenario import StopVolumeModel
from mite.volume_model import Compound, Constant, Nothing, Ramp, oneshot_vm


def exact(message):
    return f"^{re.escape(message)}$"


# Nothing / Constant / bare Ramp


def test_nothing_returns_zero():
    assert Nothing(duration=60)(1, 2) == 0


def test_nothing_still_returns_a_value_when_start_equals_duration():
    assert Nothing(60)(60, 61) == 0


def test_nothing_stops_when_start_is_past_duration():
    with pytest.raises(StopVolumeModel):
        Nothing(60)(61, 62)


def test_constant_returns_its_tps():
    assert Constant(duration=60, tps=3)(1, 2) == 3


def test_constant_still_returns_its_tps_when_start_equals_duration():
    assert Constant(duration=60, tps=1)(60, 61) == 1


def test_constant_stops_when_start_is_past_duration():
    with pytest.raises(StopVolumeModel):
        Constant(duration=60, tps=1)(61, 62)


def test_constant_takes_duration_then_tps_positionally():
    vm = Constant(10, 5)

    assert (vm.duration, vm.tps) == (10, 5)


def test_ramp_takes_duration_then_to_then_frm_positionally():
    vm = Ramp(10, 3, 1)

    assert (vm.duration, vm.to, vm.frm) == (10, 3, 1)


def test_ramp_end_points_default_to_none():
    vm = Ramp(10)

    assert (vm.to, vm.frm) == (None, None)


@pytest.mark.parametrize("model", [Nothing, Constant, Ramp, Compound])
def test_every_model_is_a_dataclass_whose_first_field_is_duration(model):
    assert dataclasses.fields(model)[0].name == "duration"


def test_bare_ramp_raises_when_called():
    with pytest.raises(
        ValueError, match=exact("Ramp was called outside of a compound volume model")
    ):
        Ramp(10)(1, 2)


def test_bare_ramp_checks_duration_before_complaining():
    with pytest.raises(StopVolumeModel):
        Ramp(10)(11, 12)


def test_stop_volume_model_is_an_exception():
    assert issubclass(StopVolumeModel, Exception)


# Composition


def test_adding_models_makes_a_compound_lasting_the_sum_of_durations():
    vm = Nothing(10) + Constant(5, 1) + Nothing(3)

    assert isinstance(vm, Compound)
    assert vm.duration == 18


def test_adding_a_compound_flattens_its_parts():
    vm = Nothing(10) + (Constant(5, 1) + Nothing(3))

    assert vm._components == (Nothing(10), Constant(5, 1), Nothing(3))


def test_compound_plays_its_parts_one_after_another():
    vm = Constant(10, 1) + Constant(10, 2)

    assert [vm(t, t + 1) for t in (0, 9, 10, 15, 20)] == [1, 1, 2, 2, 2]


def test_compound_still_returns_a_value_when_start_equals_its_duration():
    assert (Nothing(10) + Constant(duration=10, tps=1))(20, 21) == 1


def test_compound_stops_when_start_is_past_its_duration():
    vm = Nothing(10) + Constant(duration=10, tps=1)

    with pytest.raises(StopVolumeModel):
        vm(21, 22)


def test_adding_a_non_model_raises_value_error():
    with pytest.raises(ValueError, match=exact("Cannot add a <class 'int'> to a volume model")):
        Nothing(10) + 2


def test_adding_a_plain_function_to_a_model_raises_value_error():
    with pytest.raises(ValueError, match="^Cannot add a <class 'function'> to a volume model$"):
        Constant(10, 1) + (lambda start, end: 1)


def test_adding_a_model_to_a_plain_function_raises_type_error():
    with pytest.raises(TypeError):
        (lambda start, end: 1) + Constant(10, 1)


def test_a_compound_can_be_extended_after_it_has_been_called():
    ramp_up = Ramp(duration=10, frm=0) + Constant(tps=2, duration=10)
    ramp_up(5, 6)

    vm = ramp_up + Nothing(5)

    assert [vm(t, t + 1) for t in (5, 10, 21)] == [1, 2, 0]


# Ramps in a chain: mite's reference values


REFERENCE_CHAINS = {
    "nothing, ramp, constant": (
        lambda: Nothing(10) + Ramp(10) + Constant(tps=2, duration=10),
        [(1, 0), (10, 0), (15, 1), (20, 2)],
        31,
    ),
    "nothing + (ramp + constant)": (
        lambda: Nothing(10) + (Ramp(10) + Constant(tps=2, duration=10)),
        [(1, 0), (10, 0), (15, 1), (20, 2)],
        31,
    ),
    "constant, ramp to zero": (
        lambda: Constant(tps=2, duration=10) + Ramp(duration=10, to=0),
        [(1, 2), (10, 2), (15, 1), (20, 0)],
        21,
    ),
    "ramp from zero, constant": (
        lambda: Ramp(duration=10, frm=0) + Constant(tps=2, duration=10),
        [(1, 0), (5, 1), (10, 2), (20, 2)],
        21,
    ),
    "nothing alone": (lambda: Nothing(60), [(60, 0)], 61),
}


@pytest.mark.parametrize("name", REFERENCE_CHAINS)
def test_reference_chain_values(name):
    make, expected, _ = REFERENCE_CHAINS[name]
    vm = make()

    assert [(start, vm(start, start + 1)) for start, _ in expected] == expected


@pytest.mark.parametrize("name", REFERENCE_CHAINS)
def test_reference_chain_stops(name):
    make, _, stop_at = REFERENCE_CHAINS[name]
    vm = make()

    with pytest.raises(StopVolumeModel):
        vm(stop_at, stop_at + 1)


def test_middle_ramp_goes_from_the_previous_model_to_the_next():
    vm = Constant(duration=10, tps=4) + Ramp(10) + Constant(duration=10, tps=8)

    assert [vm(t, t + 1) for t in (10, 15, 20)] == [4, 6, 8]


def test_ramp_values_truncate_to_integers():
    vm = Ramp(duration=3, frm=0) + Constant(duration=3, tps=2)

    assert [vm(t, t + 1) for t in (1, 2)] == [0, 1]


def test_ramp_chain_errors_are_raised_on_first_call_not_when_building():
    vm = Ramp(duration=10) + Constant(tps=2, duration=10)

    with pytest.raises(ValueError):
        vm(1, 2)


def test_first_ramp_without_frm_raises():
    vm = Ramp(duration=10) + Constant(tps=2, duration=10)

    message = "You must specify 'frm' on the first Ramp in a chain of Volume Models"
    with pytest.raises(ValueError, match=exact(message)):
        vm(1, 2)


def test_final_ramp_without_to_raises():
    vm = Constant(tps=2, duration=10) + Ramp(duration=10)

    message = "You must specify 'to' on the final Ramp in a chain of Volume Models"
    with pytest.raises(ValueError, match=exact(message)):
        vm(1, 2)


def test_ramp_with_frm_later_in_a_chain_raises():
    vm = Constant(tps=1, duration=10) + Ramp(duration=10, frm=0) + Constant(tps=1, duration=10)

    message = "A ramp with 'frm' specified must be the first volume model in a chain"
    with pytest.raises(ValueError, match=exact(message)):
        vm(1, 2)


def test_ramp_with_to_before_the_end_of_a_chain_raises():
    vm = Constant(tps=1, duration=10) + Ramp(duration=10, to=0) + Constant(tps=1, duration=10)

    message = "A ramp with 'to' specified must be the last volume model in a chain"
    with pytest.raises(ValueError, match=exact(message)):
        vm(1, 2)


def test_two_adjacent_ramps_raise_the_outside_of_a_compound_error():
    vm = Ramp(duration=10, frm=0) + Ramp(duration=10, to=5)

    with pytest.raises(
        ValueError, match=exact("Ramp was called outside of a compound volume model")
    ):
        vm(1, 2)


# oneshot_vm


def test_oneshot_vm_by_default_asks_for_one_journey_at_once():
    assert oneshot_vm()(0, 1) == 1


def test_oneshot_vm_stops_after_it_has_fired():
    vm = oneshot_vm()
    vm(0, 1)

    with pytest.raises(StopVolumeModel):
        vm(1, 2)


def test_oneshot_vm_waits_until_start_is_past_when():
    vm = oneshot_vm(when=5)

    assert [vm(t, t + 1) for t in (0, 5, 6)] == [0, 0, 1]


def test_oneshot_vm_with_stop_scenario_and_a_future_when_never_fires():
    vm = oneshot_vm(when=5, stop_scenario=True)

    with pytest.raises(StopVolumeModel):
        vm(0, 1)


def test_oneshot_vm_with_stop_scenario_fires_if_when_has_passed():
    vm = oneshot_vm(stop_scenario=True)

    assert vm(0, 1) == 1
    with pytest.raises(StopVolumeModel):
        vm(1, 2)


def test_oneshot_vm_exposes_when_as_duration_and_a_tps_of_one():
    vm = oneshot_vm(when=7)

    assert (vm.duration, vm.tps) == (7, 1)


def test_each_oneshot_vm_fires_independently():
    first, second = oneshot_vm(), oneshot_vm()
    first(0, 1)

    assert second(0, 1) == 1

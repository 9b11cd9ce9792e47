from mite.scenario import Scenario, StopScenario, StopVolumeModel


def test_stop_scenario_is_the_old_name_of_stop_volume_model():
    assert StopScenario is StopVolumeModel


def test_scenario_fields_are_journey_spec_datapool_volumemodel():
    scenario = Scenario("journeys:signin", None, 5)

    assert scenario._fields == ("journey_spec", "datapool", "volumemodel")
    assert (scenario.journey_spec, scenario.datapool, scenario.volumemodel) == (
        "journeys:signin",
        None,
        5,
    )

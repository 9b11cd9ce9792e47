//! The one scenario of `mite journey test` and `mite journey run`, as mite builds it.

/// Where the journey's arguments come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JourneyFeed {
    /// `journey test` with a datapool: the datapool as given, item after item.
    Datapool,
    /// `journey run` with a datapool: its first item, once (`SingleRunDataPoolWrapper`).
    FirstItemOnce,
    /// `journey run` without one: one execution with no arguments (an `IterableDataPool` of
    /// one empty tuple, so the run ends when it is used up).
    OneEmptyItem,
    /// `journey test` without one: no arguments, forever.
    Nothing,
}

/// The scenario's datapool and its constant volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JourneyScenario {
    pub feed: JourneyFeed,
    /// Journeys running at once: `--volume` (truncated) for `journey test`, 1 for a run.
    pub volume: i64,
}

/// `once` is `journey run`; `volume` the `--volume` option.
pub fn journey_scenario(has_datapool: bool, once: bool, volume: f64) -> JourneyScenario {
    let feed = match (has_datapool, once) {
        (true, false) => JourneyFeed::Datapool,
        (true, true) => JourneyFeed::FirstItemOnce,
        (false, true) => JourneyFeed::OneEmptyItem,
        (false, false) => JourneyFeed::Nothing,
    };
    JourneyScenario {
        feed,
        volume: if once { 1 } else { volume as i64 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journey_test_runs_at_the_volume_with_the_datapool_as_given() {
        assert_eq!(
            journey_scenario(true, false, 3.9),
            JourneyScenario {
                feed: JourneyFeed::Datapool,
                volume: 3
            }
        );
        assert_eq!(
            journey_scenario(false, false, 2.0).feed,
            JourneyFeed::Nothing
        );
    }

    #[test]
    fn journey_run_is_one_execution_whatever_the_volume() {
        assert_eq!(
            journey_scenario(true, true, 50.0),
            JourneyScenario {
                feed: JourneyFeed::FirstItemOnce,
                volume: 1
            }
        );
        assert_eq!(
            journey_scenario(false, true, 50.0).feed,
            JourneyFeed::OneEmptyItem
        );
    }
}

//! Standing work: mite-rs's extension of mite's controller protocol, used only between a
//! mite-rs runner and a mite-rs controller.
//!
//! mite hands out one work item per journey execution, so a runner whose journeys take a
//! millisecond must ask the controller thousands of times a second, and its slots sit empty
//! while it waits for each answer. A runner that offers standing work in its hello is given,
//! for each scenario without a datapool, a number of journeys it may keep running: it starts
//! a new one the moment one ends, as the in-process runner does, and asks again when the
//! grant's `valid_for` seconds are over (the controller's next period boundary or spawn
//! slot) or at its usual `--max-loop-delay`.
//!
//! On the wire: the hello's content is `{"standing_work": true}` (mite's controllers ignore
//! a hello's content and answer as always), and a work reply to such a runner has a fourth
//! element `[valid_for, [[scenario_id, journeys, journey_spec], ...]]`. mite's runners never
//! offer it, so they never see a fourth element.

use crate::messages::Value;

/// The key of the hello content that offers standing work.
pub const OFFER_KEY: &str = "standing_work";

/// What a controller grants a runner that offered standing work.
#[derive(Clone, Debug, PartialEq)]
pub struct StandingWork {
    /// Seconds (from the answer) during which the grant holds; the runner starts no
    /// standing journey after that until it has asked again.
    pub valid_for: f64,
    pub scenarios: Vec<StandingScenario>,
}

/// How many journeys of one scenario the runner may keep running.
#[derive(Clone, Debug, PartialEq)]
pub struct StandingScenario {
    pub scenario_id: u64,
    pub journeys: u64,
    pub journey_spec: String,
}

/// The hello content of a runner that offers standing work.
pub fn offer() -> Value {
    Value::Map(vec![(Value::str(OFFER_KEY), Value::Bool(true))])
}

/// Whether a hello's content offers standing work (anything else, nil included, does not).
pub fn offered(content: &Value) -> bool {
    matches!(content.get(OFFER_KEY), Some(Value::Bool(true)))
}

impl StandingWork {
    pub fn to_value(&self) -> Value {
        Value::Array(vec![
            Value::Float(self.valid_for),
            Value::Array(
                self.scenarios
                    .iter()
                    .map(|s| {
                        Value::Array(vec![
                            Value::UInt(s.scenario_id),
                            Value::UInt(s.journeys),
                            Value::str(&s.journey_spec),
                        ])
                    })
                    .collect(),
            ),
        ])
    }

    /// The grant in a work reply's fourth element, or what is wrong with it (one line).
    pub fn from_value(value: &Value) -> Result<StandingWork, String> {
        let bad = |detail: String| detail;
        let Value::Array(parts) = value else {
            return Err(bad(format!("{value:?} is not a list")));
        };
        let [valid_for, scenarios] = parts.as_slice() else {
            return Err(bad(format!("{} elements, not 2", parts.len())));
        };
        let valid_for = valid_for
            .as_f64()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| bad(format!("valid_for is {valid_for:?}")))?;
        let Value::Array(scenarios) = scenarios else {
            return Err(bad(format!("the scenarios are {scenarios:?}, not a list")));
        };
        let count = |v: &Value| match v {
            Value::UInt(n) => Some(*n),
            Value::Int(n) => u64::try_from(*n).ok(),
            _ => None,
        };
        let scenarios = scenarios
            .iter()
            .map(|s| match s {
                Value::Array(fields) => match fields.as_slice() {
                    [id, journeys, spec] => Ok(StandingScenario {
                        scenario_id: count(id).ok_or_else(|| bad(format!("scenario id {id:?}")))?,
                        journeys: count(journeys)
                            .ok_or_else(|| bad(format!("journeys {journeys:?}")))?,
                        journey_spec: spec
                            .as_str()
                            .ok_or_else(|| bad(format!("journey spec {spec:?}")))?
                            .to_owned(),
                    }),
                    _ => Err(bad(format!("a scenario of {} fields", fields.len()))),
                },
                other => Err(bad(format!("a scenario is {other:?}"))),
            })
            .collect::<Result<_, _>>()?;
        Ok(StandingWork {
            valid_for,
            scenarios,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offer_is_a_map_and_only_true_offers() {
        assert!(offered(&offer()));
        assert!(!offered(&Value::Nil));
        assert!(!offered(&Value::Map(vec![(
            Value::str(OFFER_KEY),
            Value::UInt(1)
        )])));
    }

    #[test]
    fn standing_work_round_trips_and_rejects_nonsense() {
        let work = StandingWork {
            valid_for: 0.25,
            scenarios: vec![StandingScenario {
                scenario_id: 2,
                journeys: 50,
                journey_spec: "m:j".into(),
            }],
        };
        assert_eq!(StandingWork::from_value(&work.to_value()).unwrap(), work);
        for bad in [
            Value::Nil,
            Value::Array(vec![Value::Float(-1.0), Value::Array(vec![])]),
            Value::Array(vec![Value::Float(f64::INFINITY), Value::Array(vec![])]),
            Value::Array(vec![
                Value::Float(1.0),
                Value::Array(vec![Value::Array(vec![Value::Int(-1)])]),
            ]),
        ] {
            let e = StandingWork::from_value(&bad).unwrap_err();
            assert!(!e.is_empty() && !e.contains('\n'), "{e}");
        }
    }
}

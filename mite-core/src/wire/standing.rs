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
//!
//! The same element carries, as a third entry when there are any, how late the reply's
//! arrival-rate work items already are: `[[index into the work list, seconds], ...]`. The
//! runner counts each journey's start delay from that, on its own clock, so the two
//! machines' clocks need not agree.

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
    /// `(index of a work item of the reply, seconds since it was due)` for the items an
    /// arrival-rate model scheduled.
    pub late: Vec<(u64, f64)>,
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
        let mut parts = vec![
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
        ];
        if !self.late.is_empty() {
            let late = self
                .late
                .iter()
                .map(|&(index, seconds)| {
                    Value::Array(vec![Value::UInt(index), Value::Float(seconds)])
                })
                .collect();
            parts.push(Value::Array(late));
        }
        Value::Array(parts)
    }

    /// The grant in a work reply's fourth element, or what is wrong with it (one line).
    pub fn from_value(value: &Value) -> Result<StandingWork, String> {
        let bad = |detail: String| detail;
        let Value::Array(parts) = value else {
            return Err(bad(format!("{value:?} is not a list")));
        };
        let (valid_for, scenarios, late) = match parts.as_slice() {
            [valid_for, scenarios] => (valid_for, scenarios, None),
            [valid_for, scenarios, late] => (valid_for, scenarios, Some(late)),
            _ => return Err(bad(format!("{} elements, not 2 or 3", parts.len()))),
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
        let late = match late {
            None => Vec::new(),
            Some(Value::Array(entries)) => entries
                .iter()
                .map(|entry| match entry {
                    Value::Array(pair) => match pair.as_slice() {
                        [index, seconds] => Ok((
                            count(index).ok_or_else(|| bad(format!("work index {index:?}")))?,
                            seconds
                                .as_f64()
                                .filter(|s| s.is_finite() && *s >= 0.0)
                                .ok_or_else(|| bad(format!("lateness {seconds:?}")))?,
                        )),
                        _ => Err(bad(format!("a lateness of {} fields", pair.len()))),
                    },
                    other => Err(bad(format!("a lateness is {other:?}"))),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(bad(format!("the lateness is {other:?}, not a list"))),
        };
        Ok(StandingWork {
            valid_for,
            scenarios,
            late,
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
            late: Vec::new(),
        };
        assert_eq!(StandingWork::from_value(&work.to_value()).unwrap(), work);
        let with_late = StandingWork {
            late: vec![(0, 0.002), (3, 1.5)],
            ..work.clone()
        };
        assert!(matches!(&with_late.to_value(), Value::Array(parts) if parts.len() == 3));
        assert_eq!(
            StandingWork::from_value(&with_late.to_value()).unwrap(),
            with_late
        );
        for bad in [
            Value::Nil,
            Value::Array(vec![Value::Float(-1.0), Value::Array(vec![])]),
            Value::Array(vec![Value::Float(f64::INFINITY), Value::Array(vec![])]),
            Value::Array(vec![
                Value::Float(1.0),
                Value::Array(vec![Value::Array(vec![Value::Int(-1)])]),
            ]),
            Value::Array(vec![
                Value::Float(1.0),
                Value::Array(vec![]),
                Value::Array(vec![Value::Array(vec![Value::UInt(0), Value::Float(-1.0)])]),
            ]),
        ] {
            let e = StandingWork::from_value(&bad).unwrap_err();
            assert!(!e.is_empty() && !e.contains('\n'), "{e}");
        }
    }
}

//! Journey fixtures (mite's `_fixture` attributes): a value computed once per label, before
//! the first journey that needs it starts, then shared by every journey with that label.
//! Journeys that arrive while it is being computed wait for it.

use std::collections::HashMap;

enum State<V, W> {
    Computing(Vec<W>),
    Ready(V),
}

/// What to do with a journey that needs a fixture.
#[derive(Debug, PartialEq)]
pub enum FixtureNeed<W> {
    /// The value is ready: start the journey (handed back) now.
    Ready(W),
    /// First to ask: start computing the value; the journey waits for it.
    Compute,
    /// The value is being computed; the journey waits for it.
    Wait,
}

/// Fixture values by label, `V` the value and `W` a journey waiting to start.
pub struct Fixtures<V, W> {
    by_label: HashMap<String, State<V, W>>,
}

impl<V, W> Default for Fixtures<V, W> {
    fn default() -> Self {
        Fixtures {
            by_label: HashMap::new(),
        }
    }
}

impl<V, W> Fixtures<V, W> {
    /// A journey `waiting` needs the fixture `label`.
    pub fn need(&mut self, label: &str, waiting: W) -> FixtureNeed<W> {
        match self.by_label.get_mut(label) {
            Some(State::Ready(_)) => FixtureNeed::Ready(waiting),
            Some(State::Computing(queue)) => {
                queue.push(waiting);
                FixtureNeed::Wait
            }
            None => {
                self.by_label
                    .insert(label.to_owned(), State::Computing(vec![waiting]));
                FixtureNeed::Compute
            }
        }
    }

    /// The value of `label`, once computed.
    pub fn value(&self, label: &str) -> Option<&V> {
        match self.by_label.get(label) {
            Some(State::Ready(value)) => Some(value),
            _ => None,
        }
    }

    /// The computation of `label` ended: the journeys that waited for it, in the order they
    /// came. A value is kept for later journeys; after a failure the next journey to ask
    /// computes it again.
    pub fn computed<E>(&mut self, label: &str, outcome: Result<V, E>) -> (Vec<W>, Result<(), E>) {
        let waiting = match self.by_label.remove(label) {
            Some(State::Computing(waiting)) => waiting,
            Some(ready @ State::Ready(_)) => {
                self.by_label.insert(label.to_owned(), ready);
                Vec::new()
            }
            None => Vec::new(),
        };
        let outcome = outcome.map(|value| {
            self.by_label.insert(label.to_owned(), State::Ready(value));
        });
        (waiting, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_journey_computes_and_the_others_wait_for_the_value() {
        let mut f: Fixtures<&str, u32> = Fixtures::default();
        assert_eq!(f.need("db", 1), FixtureNeed::Compute);
        assert_eq!(f.need("db", 2), FixtureNeed::Wait);
        assert_eq!(f.need("other", 3), FixtureNeed::Compute);
        assert_eq!(f.value("db"), None);
        let (waiting, ok) = f.computed::<()>("db", Ok("conn"));
        assert_eq!((waiting, ok), (vec![1, 2], Ok(())));
        assert_eq!(f.value("db"), Some(&"conn"));
        assert_eq!(f.need("db", 4), FixtureNeed::Ready(4));
    }

    #[test]
    fn after_a_failure_the_waiting_journeys_come_back_and_the_next_one_computes_again() {
        let mut f: Fixtures<&str, u32> = Fixtures::default();
        f.need("db", 1);
        f.need("db", 2);
        let (waiting, outcome) = f.computed("db", Err("refused"));
        assert_eq!((waiting, outcome), (vec![1, 2], Err("refused")));
        assert_eq!(f.value("db"), None);
        assert_eq!(f.need("db", 3), FixtureNeed::Compute);
    }

    #[test]
    fn a_late_second_answer_does_not_lose_the_value() {
        let mut f: Fixtures<&str, u32> = Fixtures::default();
        f.need("db", 1);
        let _ = f.computed::<()>("db", Ok("first"));
        let (waiting, _) = f.computed::<()>("db", Ok("second"));
        assert!(waiting.is_empty());
        assert_eq!(f.value("db"), Some(&"second"));
    }
}

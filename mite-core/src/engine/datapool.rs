//! Datapools as the controller sees them: items checked out by scenario and checked back in
//! by item id.
//!
//! The items themselves (Python objects in-process, msgpack values on the wire) are the
//! caller's; the core only needs to know what a checkout gave and how a recyclable pool
//! orders its items.

use std::collections::VecDeque;

use super::ScenarioId;

/// What a datapool had for one journey.
#[derive(Debug, PartialEq)]
pub enum Taken<I, D> {
    /// An item: its id (to check it back in) and the journey's arguments.
    Item(I, D),
    /// Nothing right now (every recyclable item is out); the scenario waits for a check-in.
    Empty,
    /// No item will ever come again: the scenario ends.
    Exhausted,
}

/// The answer of [`DataSource::checkout`].
#[derive(Debug, PartialEq)]
pub enum Checkout<I, D> {
    /// The scenario has no datapool: its journeys take no arguments.
    NoPool,
    /// The pool answered at once.
    Now(Taken<I, D>),
    /// The pool answers later (an async checkout); the caller passes the answer to
    /// [`super::Dispatcher::checkout_done`].
    Later,
}

/// The datapools of a test's scenarios.
pub trait DataSource {
    type ItemId;
    type Data;
    type Error;

    /// Takes one item for a journey of `scenario`.
    fn checkout(
        &mut self,
        scenario: ScenarioId,
    ) -> Result<Checkout<Self::ItemId, Self::Data>, Self::Error>;

    /// Gives an item back once its journey finished (or could not start).
    fn checkin(&mut self, scenario: ScenarioId, item: Self::ItemId);
}

/// The order of mite's `RecyclableIterableDataPool`: items go out oldest-available first and
/// a checked-in item joins the back of the queue, so every item is used in turn.
#[derive(Debug, Clone)]
pub struct RecycleQueue {
    len: usize,
    available: VecDeque<usize>,
    out: Vec<bool>,
}

/// A check-in the queue refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckinError {
    #[error("item {0} is not one of the pool's {1} items")]
    Unknown(usize, usize),
    #[error("item {0} was not checked out")]
    NotOut(usize),
}

impl RecycleQueue {
    /// A queue of `len` items, all available, in their original order.
    pub fn new(len: usize) -> Self {
        RecycleQueue {
            len,
            available: (0..len).collect(),
            out: vec![false; len],
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The index of the oldest available item, or `None` when every item is out.
    pub fn checkout(&mut self) -> Option<usize> {
        let index = self.available.pop_front()?;
        self.out[index] = true;
        Some(index)
    }

    /// Returns item `index` to the back of the queue. An id that is not out (a stale runner
    /// checking in twice) is refused rather than handed out twice.
    pub fn checkin(&mut self, index: usize) -> Result<(), CheckinError> {
        match self.out.get_mut(index) {
            None => Err(CheckinError::Unknown(index, self.len)),
            Some(false) => Err(CheckinError::NotOut(index)),
            Some(out) => {
                *out = false;
                self.available.push_back(index);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_go_out_in_order_and_come_back_at_the_end() {
        let mut q = RecycleQueue::new(3);
        assert_eq!([q.checkout(), q.checkout()], [Some(0), Some(1)]);
        q.checkin(0).unwrap();
        assert_eq!([q.checkout(), q.checkout()], [Some(2), Some(0)]);
        assert_eq!(q.checkout(), None);
    }

    #[test]
    fn every_item_is_used_in_turn_under_steady_load() {
        let mut q = RecycleQueue::new(4);
        let mut seen = Vec::new();
        for _ in 0..8 {
            let i = q.checkout().unwrap();
            seen.push(i);
            q.checkin(i).unwrap();
        }
        assert_eq!(seen, [0, 1, 2, 3, 0, 1, 2, 3]);
    }

    #[test]
    fn a_double_or_unknown_checkin_is_refused() {
        let mut q = RecycleQueue::new(2);
        let i = q.checkout().unwrap();
        q.checkin(i).unwrap();
        assert_eq!(q.checkin(i), Err(CheckinError::NotOut(i)));
        assert_eq!(q.checkin(7), Err(CheckinError::Unknown(7, 2)));
        assert_eq!(
            [q.checkout(), q.checkout(), q.checkout()],
            [Some(1), Some(0), None]
        );
    }

    #[test]
    fn an_empty_pool_never_gives_an_item() {
        let mut q = RecycleQueue::new(0);
        assert!(q.is_empty());
        assert_eq!(q.checkout(), None);
    }
}

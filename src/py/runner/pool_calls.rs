//! Work items from the controller, and the awaitables of Python datapools it called: the
//! runner steps those on the loop like any coroutine and hands their outcome back.

use super::*;

impl Runner {
    /// Starts one work item: its journey, with its datapool item as arguments.
    pub(super) fn start_work(slf: &Bound<'_, Self>, work: WorkItem) {
        slf.borrow()
            .state
            .borrow_mut()
            .ensure_scenario(slf.py(), work.scenario);
        let item = work.item.map(|(id, data)| Item { id, data });
        Self::launch(slf, work.scenario, item, work.due);
    }

    /// Steps the `checkout`/`checkin` awaitables the controller's last call started.
    pub(super) fn step_pool_calls(slf: &Bound<'_, Self>) {
        let py = slf.py();
        let (checkouts, checkins) = {
            let this = slf.borrow();
            let mut state = this.state.borrow_mut();
            // Built-in pools never make Python calls: the common case costs one check.
            if !state.controller.has_pool_calls() {
                return;
            }
            (
                state.controller.take_checkouts(),
                state.controller.take_checkins(),
            )
        };
        for (id, awaitable) in checkouts {
            Self::drive(
                slf,
                awaitable.into_bound(py),
                format!("checkout_{id}"),
                Purpose::Checkout(id),
            );
        }
        for awaitable in checkins {
            Self::drive(
                slf,
                awaitable.into_bound(py),
                "checkin".into(),
                Purpose::Checkin,
            );
        }
    }

    /// A Python datapool's `checkout` finished: the controller turns it into work (or not).
    pub(super) fn checkout_finished(
        slf: &Bound<'_, Self>,
        id: ScenarioId,
        outcome: Result<Py<PyAny>, PyErr>,
    ) {
        let this = slf.borrow();
        let py = slf.py();
        let result = {
            let mut state = this.state.borrow_mut();
            let runner = state.runner_id;
            state.controller.checkout_done(py, runner, id, outcome)
        };
        for work in this.after_controller(py, result).unwrap_or_default() {
            Self::start_work(slf, work);
        }
        if !this.state.borrow().pumping {
            Self::pump(slf);
        }
    }
}

//! A journey's end: report its error, send the `__root__` transaction, and report it finished
//! with its item id to the controller, which checks the item in and refills the slot.

use super::*;

impl Runner {
    pub(super) fn journey_finished(
        slf: &Bound<'_, Self>,
        run: JourneyRun,
        outcome: Result<Py<PyAny>, PyErr>,
    ) {
        let this = slf.borrow();
        let py = slf.py();
        this.state.borrow_mut().running.remove(&run.serial);
        let ctx = run.ctx.bind(py).borrow();
        let had_error = match &outcome {
            Ok(_) => false,
            Err(e) if e.is_instance_of::<PySystemExit>(py) => {
                let code = e
                    .value(py)
                    .getattr("code")
                    .ok()
                    .and_then(|c| c.extract::<i32>().ok())
                    .unwrap_or(1);
                this.end_with(py, RunEnd::Exit(code));
                false
            }
            Err(e) if e.is_instance_of::<PyKeyboardInterrupt>(py) => {
                Self::interrupt_with(slf, 130);
                false
            }
            Err(e) => {
                let traceback = e.traceback(py);
                let traceback = traceback.as_ref().map(|t| t.as_any());
                match report_exception(py, &ctx, e.value(py).as_any(), traceback, &run.root) {
                    Ok(had_error) => had_error,
                    Err(exit) if exit.is_instance_of::<PySystemExit>(py) => {
                        this.end_with(py, RunEnd::Exit(1));
                        true
                    }
                    Err(other) => {
                        log::error!(target: "mite.runner", "reporting a journey error failed: {}", one_line(py, &other));
                        true
                    }
                }
            }
        };
        if let Err(e) = send_txn(py, &ctx, run.root.clone(), run.start_time, had_error) {
            log::error!(target: "mite.runner", "sending txn failed: {}", one_line(py, &e));
        }
        drop(ctx);
        let pumping = {
            let mut state = this.state.borrow_mut();
            let runner = state.runner_id;
            let item = run.item.map(|item| item.id);
            state.controller.finished(py, runner, run.scenario, item);
            state.journeys_finished += 1;
            state.pumping
        };
        Self::step_pool_calls(slf);
        if !pumping {
            Self::pump(slf);
        }
    }
}

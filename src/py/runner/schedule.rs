//! The schedule: period ticks, asking the controller for work and starting it, controller
//! reports and config changes, and
//! ending the run (normally, on interrupt, or on a fatal error).

use super::*;

impl Runner {
    /// Lets the controller evaluate volume models at period boundaries.
    pub(super) fn refresh(&self, py: Python<'_>, now: f64) {
        let result = self.state.borrow_mut().controller.refresh(py, now);
        self.after_controller(py, result);
    }

    /// Asks the controller for at most `budget` work items to start now.
    fn request_work(slf: &Bound<'_, Self>, now: f64, budget: usize) -> Vec<WorkItem> {
        let this = slf.borrow();
        let py = slf.py();
        // `--runner-max-journeys`: what is running counts against the cap.
        let room = this.max_journeys.map(|max| {
            let running = this.state.borrow().running.len() as u64;
            max.saturating_sub(running)
        });
        // Asked even for none: a remote controller hears from the runner with each request.
        let result = {
            let mut state = this.state.borrow_mut();
            let runner = state.runner_id;
            state
                .controller
                .request_work(py, runner, now, budget as u64, room)
        };
        let work = this.after_controller(py, result).unwrap_or_default();
        Self::step_pool_calls(slf);
        work
    }

    /// Fails the run on a controller-side failure (a broken volume model or datapool), and
    /// raises the stop flag once no scenario is left.
    pub(super) fn after_controller<T>(
        &self,
        py: Python<'_>,
        result: Result<T, Failure>,
    ) -> Option<T> {
        let rest = match result {
            Ok(rest) => Some(rest),
            Err(Failure(message)) => {
                self.fail(py, message);
                None
            }
        };
        if !self.state.borrow().controller.is_active() {
            self.stop_flag.store(true, Ordering::Relaxed);
        }
        rest
    }

    pub(super) fn journey_spec(&self, id: ScenarioId) -> Arc<str> {
        let state = self.state.borrow();
        state
            .scenarios
            .get(id as usize - 1)
            .map_or_else(|| Arc::from("?"), |s| s.journey_spec.clone())
    }

    /// Starts what the controller grants, a bounded number per call.
    pub(super) fn pump(slf: &Bound<'_, Self>) {
        let this = slf.borrow();
        let py = slf.py();
        {
            let mut state = this.state.borrow_mut();
            if state.pumping || state.done {
                return;
            }
            state.pumping = true;
            state.pump_deferred = false;
        }
        let mut budget = MAX_STARTS_PER_PUMP;
        // One clock read per pump: starting journeys takes microseconds, and a slot a journey
        // freed while starting is planned at the same instant on the next round.
        let now = this.now();
        loop {
            if this.state.borrow().end.is_some() {
                break;
            }
            if budget == 0 {
                this.defer_pump(py);
                break;
            }
            let work = Self::request_work(slf, now, budget);
            if work.is_empty() {
                break;
            }
            // Asked again at the same instant, the controller only has more work if a journey
            // finished while these started (one that never suspends) or the budget capped it.
            let capped = work.len() == budget;
            let finished_before = this.state.borrow().journeys_finished;
            let mut work = work.into_iter();
            while let Some(item) = work.next() {
                if this.state.borrow().end.is_some() {
                    let mut state = this.state.borrow_mut();
                    for unstarted in std::iter::once(item).chain(work.by_ref()) {
                        let item = unstarted.item.map(|(id, data)| Item { id, data });
                        state.give_back(py, unstarted.scenario, item);
                    }
                    break;
                }
                budget -= 1;
                Self::start_work(slf, item);
            }
            if !capped && this.state.borrow().journeys_finished == finished_before {
                break;
            }
        }
        this.state.borrow_mut().pumping = false;
        Self::after_change_at(slf, now);
    }

    /// Continues the pump from a fresh loop callback once this one started its share.
    fn defer_pump(&self, py: Python<'_>) {
        let mut state = self.state.borrow_mut();
        if state.pump_deferred {
            return;
        }
        state.pump_deferred = true;
        let callback = state.pump_callback.as_ref().map(|c| c.clone_ref(py));
        drop(state);
        if let Some(callback) = callback {
            if let Err(e) = self.event_loop.call_method1(py, "call_soon", (callback,)) {
                self.fail(
                    py,
                    format!("cannot schedule journeys: {}", one_line(py, &e)),
                );
            }
        }
    }

    /// After anything that may end the run or change when the controller next needs to run.
    pub(super) fn after_change(slf: &Bound<'_, Self>) {
        let now = slf.borrow().now();
        Self::after_change_at(slf, now);
    }

    /// [`Runner::after_change`] with the run's clock already read (`now`).
    fn after_change_at(slf: &Bound<'_, Self>, now: f64) {
        let this = slf.borrow();
        let py = slf.py();
        let (finished, forced) = {
            let state = this.state.borrow();
            let interrupted_and_idle = state.end.is_some() && state.running.is_empty();
            (
                state.controller.is_finished() || interrupted_and_idle,
                false,
            )
        };
        if finished || forced {
            Self::finish_run(slf);
            return;
        }
        let wakeup = {
            let state = this.state.borrow();
            state.controller.next_wakeup(now).min(state.next_report_at)
        };
        this.schedule_timer(py, wakeup, now);
    }

    pub(super) fn schedule_timer(&self, py: Python<'_>, when: f64, now: f64) {
        let mut state = self.state.borrow_mut();
        if state.done {
            return;
        }
        if let Some((at, _)) = &state.timer {
            if *at <= when + 1e-4 {
                return;
            }
        }
        if let Some((_, handle)) = state.timer.take() {
            let _ = handle.call_method0(py, "cancel");
        }
        let Some(callback) = state.tick_callback.as_ref().map(|c| c.clone_ref(py)) else {
            return;
        };
        let delay = (when - now).max(0.0);
        drop(state);
        match self
            .event_loop
            .call_method1(py, "call_later", (delay, callback))
        {
            Ok(handle) => self.state.borrow_mut().timer = Some((when, handle)),
            Err(e) => self.fail(
                py,
                format!("cannot schedule the next period: {}", one_line(py, &e)),
            ),
        }
    }

    pub(super) fn send_report(&self, py: Python<'_>) {
        let Some(msg) = self.state.borrow().controller.report() else {
            return;
        };
        if let Err(e) = self.sink.get().deliver(py, msg) {
            log::error!(target: "mite.controller", "controller report failed: {}", one_line(py, &e));
        }
    }

    /// Applies the config changes the controller has for this runner to `ctx.config`.
    pub(super) fn update_config(&self, py: Python<'_>) {
        let result = {
            let mut state = self.state.borrow_mut();
            let runner = state.runner_id;
            state
                .controller
                .update_config(py, runner, self.config.bind(py))
        };
        if let Err(e) = result {
            self.fail(
                py,
                format!("reading config changes failed: {}", one_line(py, &e)),
            );
        }
    }

    /// Ends the run now: resolves the done future (journeys still running are abandoned).
    pub(super) fn finish_run(slf: &Bound<'_, Self>) {
        let this = slf.borrow();
        let py = slf.py();
        {
            let mut state = this.state.borrow_mut();
            if state.done {
                return;
            }
            state.done = true;
            if let Some((_, handle)) = state.timer.take() {
                let _ = handle.call_method0(py, "cancel");
            }
        }
        let watchdog = this.state.borrow_mut().watch.stop();
        if let Some(watchdog) = watchdog {
            py.detach(|| {
                let _ = watchdog.join();
            });
        }
        this.stop_flag.store(true, Ordering::Relaxed);
        this.final_health(py);
        this.send_report(py);
        let now = this.now();
        this.state.borrow_mut().controller.farewell(py, now);
        let done = this.done_future.bind(py);
        if !done
            .call_method0("done")
            .and_then(|d| d.is_truthy())
            .unwrap_or(true)
        {
            if let Err(e) = done.call_method1("set_result", (py.None(),)) {
                e.print(py);
            }
        }
    }

    /// Gives back a work item that cannot start and fails the run.
    pub(super) fn abandon(
        &self,
        py: Python<'_>,
        id: ScenarioId,
        item: Option<Item>,
        message: String,
    ) {
        self.state.borrow_mut().give_back(py, id, item);
        self.fail(py, message);
    }

    /// Records a fatal error and stops the run: one line for the user, exit 1.
    pub(super) fn fail(&self, py: Python<'_>, message: String) {
        {
            let mut state = self.state.borrow_mut();
            if state.end.is_some() {
                return;
            }
            state.end = Some(RunEnd::Failed(message));
            state.controller.stop_all();
        }
        self.stop_flag.store(true, Ordering::Relaxed);
        self.cancel_all(py);
    }

    /// Cancels the running journeys and gives them [`INTERRUPT_GRACE`] to finish.
    pub(super) fn cancel_now(&self, py: Python<'_>) {
        self.cancel_all(py);
        self.call_later(py, INTERRUPT_GRACE, |state| &state.force_callback);
    }

    /// Schedules one of the runner's loop callbacks (`pick` chooses it) `delay` seconds ahead.
    fn call_later(
        &self,
        py: Python<'_>,
        delay: f64,
        pick: impl FnOnce(&RunnerState) -> &Option<Py<PyAny>>,
    ) {
        let callback = pick(&self.state.borrow()).as_ref().map(|c| c.clone_ref(py));
        if let Some(callback) = callback {
            let _ = self
                .event_loop
                .call_method1(py, "call_later", (delay, callback));
        }
    }

    /// What an interrupt waits for: how many journeys run, by journey.
    fn running_summary(&self) -> (usize, String) {
        let state = self.state.borrow();
        let mut by_scenario: std::collections::BTreeMap<ScenarioId, usize> = Default::default();
        for journey in state.running.values() {
            *by_scenario.entry(journey.scenario).or_default() += 1;
        }
        let parts: Vec<String> = by_scenario
            .into_iter()
            .map(|(id, n)| format!("{n} of {}", self.journey_spec(id)))
            .collect();
        (state.running.len(), parts.join(", "))
    }

    pub(super) fn cancel_all(&self, py: Python<'_>) {
        let tasks: Vec<Py<PyAny>> = self
            .state
            .borrow()
            .running
            .values()
            .map(|journey| journey.task.clone_ref(py))
            .collect();
        self.state.borrow_mut().cancelled = true;
        for task in tasks {
            if let Err(e) = task.call_method0(py, "cancel") {
                e.print(py);
            }
        }
    }

    pub(super) fn end_with(&self, py: Python<'_>, end: RunEnd) {
        {
            let mut state = self.state.borrow_mut();
            if state.end.is_some() {
                return;
            }
            state.end = Some(end);
            state.controller.stop_all();
        }
        self.stop_flag.store(true, Ordering::Relaxed);
        self.cancel_all(py);
    }

    /// A Ctrl-C or SIGTERM: the first stops new journeys and lets running ones finish for
    /// the grace period; the next cancels them; one more (or cancelled journeys that will not
    /// stop) ends the run at once.
    pub(super) fn interrupt_with(slf: &Bound<'_, Self>, code: i32) {
        let this = slf.borrow();
        let py = slf.py();
        let (ended, cancelled) = {
            let state = this.state.borrow();
            (state.end.is_some(), state.cancelled)
        };
        if ended && cancelled {
            drop(this);
            Self::finish_run(slf);
            return;
        }
        let (running, summary) = this.running_summary();
        if ended {
            log::warn!(target: "mite", "Received another interrupt signal: cancelling {running} running journeys");
            this.cancel_now(py);
            drop(this);
            Self::after_change(slf);
            return;
        }
        {
            let mut state = this.state.borrow_mut();
            state.end = Some(RunEnd::Interrupted(code));
            state.controller.stop_all();
        }
        this.stop_flag.store(true, Ordering::Relaxed);
        if running == 0 {
            log::warn!(target: "mite", "Received interrupt signal, stopping the test");
        } else if this.grace_period <= 0.0 {
            log::warn!(target: "mite", "Received interrupt signal, stopping the test: cancelling {running} running journeys ({summary})");
            this.cancel_now(py);
        } else {
            let grace = this.grace_period;
            log::warn!(
                target: "mite",
                "Received interrupt signal, stopping the test: waiting up to {grace} s for {running} running journeys to finish ({summary}); interrupt again to cancel them"
            );
            this.call_later(py, grace, |state| &state.grace_callback);
        }
        drop(this);
        Self::after_change(slf);
    }
}

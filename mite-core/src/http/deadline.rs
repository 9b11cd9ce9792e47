//! Request deadlines without a timer per request.
//!
//! A tokio timer per request makes the runtime wake its own I/O driver (an eventfd write) on
//! almost every request while it is busy. Instead, requests register their deadline in one
//! table and a single task sweeps it every [`SWEEP_INTERVAL`], cancelling what expired, so a
//! timeout fires within that interval after it is due.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::future::{AbortHandle, Abortable};
use rustc_hash::FxHashMap as HashMap;

use super::runtime::current_tag;

/// How often expired requests are looked for (timeouts' resolution).
pub const SWEEP_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Default)]
pub struct Deadlines {
    entries: Mutex<HashMap<u64, (Instant, AbortHandle)>>,
    next_id: AtomicU64,
    /// A sweeping task per runtime ([`current_tag`]), replaced if its runtime went away
    /// (tests run several runtimes): a loop runtime only runs while its event loop waits, so
    /// the shared runtime's requests must not depend on its sweeper.
    sweepers: Mutex<HashMap<u64, tokio::task::JoinHandle<()>>>,
}

pin_project_lite::pin_project! {
    /// A request's work under its deadline: `None` if the sweeper cancelled it.
    pub struct Limited<F> {
        #[pin]
        work: Abortable<F>,
        _registered: Registration<'static>,
    }
}

impl<F: Future> Future for Limited<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().work.poll(cx).map(Result::ok)
    }
}

/// Removes its entry when the request finishes (or is dropped) first.
struct Registration<'a> {
    deadlines: &'a Deadlines,
    id: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.deadlines.lock().remove(&self.id);
    }
}

impl Deadlines {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (Instant, AbortHandle)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `work` until it finishes (`Some`) or `deadline` has passed (`None`). Must be
    /// called within a tokio runtime, where the sweeper task is started on first use.
    ///
    /// A plain function returning a hand-written future: an `async fn` would hold `work` twice
    /// (as its argument and inside the `Abortable`), doubling every request's future.
    pub fn limit_until<F: Future>(&'static self, deadline: Instant, work: F) -> Limited<F> {
        self.ensure_sweeper();
        let (abort, registration) = AbortHandle::new_pair();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, (deadline, abort));
        Limited {
            work: Abortable::new(work, registration),
            _registered: Registration {
                deadlines: self,
                id,
            },
        }
    }

    fn ensure_sweeper(&'static self) {
        let mut sweepers = self.sweepers.lock().unwrap_or_else(|e| e.into_inner());
        let tag = current_tag();
        if sweepers.get(&tag).is_none_or(|task| task.is_finished()) {
            let task = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(SWEEP_INTERVAL).await;
                    self.sweep(Instant::now());
                }
            });
            sweepers.insert(tag, task);
        }
    }

    /// Cancels every request whose deadline is at or before `now`.
    fn sweep(&self, now: Instant) {
        self.lock().retain(|_, (deadline, abort)| {
            if *deadline <= now {
                abort.abort();
                false
            } else {
                true
            }
        });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaked() -> &'static Deadlines {
        Box::leak(Box::new(Deadlines::default()))
    }

    #[tokio::test]
    async fn work_that_finishes_in_time_returns_and_unregisters() {
        let deadlines = leaked();
        assert_eq!(
            deadlines
                .limit_until(Instant::now() + Duration::from_secs(5), async { 7 })
                .await,
            Some(7)
        );
        assert_eq!(deadlines.len(), 0);
    }

    #[tokio::test]
    async fn work_past_its_deadline_is_cancelled_within_a_sweep() {
        let deadlines = leaked();
        let started = Instant::now();
        let outcome = deadlines
            .limit_until(
                Instant::now() + Duration::from_millis(50),
                tokio::time::sleep(Duration::from_secs(10)),
            )
            .await;
        assert_eq!(outcome, None);
        assert!(started.elapsed() < Duration::from_millis(50) + 3 * SWEEP_INTERVAL);
        assert_eq!(deadlines.len(), 0);
    }
}

//! The tokio runtimes that do the HTTP work.
//!
//! Two ways to run it. The shared runtime has a thread of its own (or N workers with
//! `MITE_HTTP_THREADS=N`): the event loop hands requests over and gets completions back, so
//! HTTP work and Python run in parallel when there are cores for both. A *loop runtime*
//! instead runs on the event loop's own thread, while the loop waits for events (`drive`):
//! with a single core there is nothing to run in parallel, and the hand-overs between two
//! threads (context switches, wake-ups, cold caches) are pure cost.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use futures_util::future::Abortable;
use tokio::io::unix::AsyncFd;

/// Why the runtime could not start.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot start the HTTP runtime: {0}")]
pub struct RuntimeError(String);

/// The shared runtime. By default one thread runs a current-thread scheduler (no work
/// stealing to pay for: one core does all the I/O and the event loop keeps the other);
/// `MITE_HTTP_THREADS=N` (N > 1) uses a multi-threaded scheduler with N workers instead.
pub fn runtime() -> Result<&'static tokio::runtime::Handle, RuntimeError> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Handle, RuntimeError>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let threads = http_threads().unwrap_or(1).max(1);
            if threads > 1 {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .thread_name("mite-http")
                    .enable_all()
                    .build()
                    .map_err(|e| RuntimeError(e.to_string()))?;
                let handle = runtime.handle().clone();
                // The runtime lives as long as the process.
                std::mem::forget(runtime);
                return Ok(handle);
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| RuntimeError(e.to_string()))?;
            let handle = runtime.handle().clone();
            std::thread::Builder::new()
                .name("mite-http".into())
                .spawn(move || runtime.block_on(std::future::pending::<()>()))
                .map_err(|e| RuntimeError(e.to_string()))?;
            Ok(handle)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// `MITE_HTTP_THREADS`, when set to a number.
fn http_threads() -> Option<usize> {
    std::env::var("MITE_HTTP_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
}

/// Whether an event loop made for a test run should do its HTTP work itself: when
/// `MITE_HTTP_THREADS=0`, or when it is unset and this process may use one CPU only
/// (affinity or cgroup quota), where a second thread could only take turns with the loop.
pub fn http_on_loop_thread() -> bool {
    match http_threads() {
        Some(n) => n == 0,
        None => std::thread::available_parallelism().is_ok_and(|n| n.get() == 1),
    }
}

thread_local! {
    /// The runtime whose work this thread is doing: 0 on the shared runtime's threads, the
    /// loop runtime's number while an event loop's thread drives it.
    static TAG: Cell<u64> = const { Cell::new(0) };
    static LOOP_RUNTIME: OnceLock<Result<&'static LoopRuntime, RuntimeError>> =
        const { OnceLock::new() };
}

/// Which runtime the current thread works for (see [`LoopRuntime`]): connections and request
/// deadlines are kept apart per runtime, since each runtime's reactor serves only its own.
pub fn current_tag() -> u64 {
    TAG.get()
}

/// A current-thread runtime an event loop's thread runs itself, from its selector: see
/// [`LoopRuntime::drive`].
pub struct LoopRuntime {
    runtime: tokio::runtime::Runtime,
    tag: u64,
    /// Requests handed over since the last drive; spawned from inside the next one, where
    /// spawning is a queue push (from outside it would also wake the reactor: a syscall).
    pending: Mutex<Vec<Job>>,
}

/// A request's work for an HTTP runtime, cancellable from the event loop's thread.
pub type Job = Abortable<Pin<Box<dyn Future<Output = ()> + Send>>>;

/// An event loop's selector as this runtime's reactor sees it: a duplicate of its epoll
/// descriptor (the same epoll instance, kept open as long as this lives).
pub struct WatchedSelector(AsyncFd<OwnedFd>);

/// This thread's loop runtime, made on first use; it lives as long as the process.
pub fn loop_runtime() -> Result<&'static LoopRuntime, RuntimeError> {
    static NEXT_TAG: AtomicU64 = AtomicU64::new(1);
    LOOP_RUNTIME.with(|cell| {
        cell.get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| RuntimeError(e.to_string()))?;
            let tag = NEXT_TAG.fetch_add(1, Ordering::Relaxed);
            Ok(&*Box::leak(Box::new(LoopRuntime {
                runtime,
                tag,
                pending: Mutex::new(Vec::new()),
            })))
        })
        .clone()
    })
}

/// Puts the thread's previous tag back when a drive ends, however it ends.
struct TagGuard(u64);

impl Drop for TagGuard {
    fn drop(&mut self) {
        TAG.set(self.0);
    }
}

/// Whether `fd` is readable now, without waiting.
fn readable_now(fd: RawFd) -> bool {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    unsafe { libc::poll(&mut poll, 1, 0) > 0 }
}

impl LoopRuntime {
    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime.handle()
    }

    /// Hands a request over: it starts in the next [`LoopRuntime::drive`] on this thread.
    pub fn submit(&self, job: Job) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(job);
    }

    fn spawn_pending(&self) {
        let jobs = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        for job in jobs {
            tokio::spawn(job);
        }
    }

    /// Registers an event loop's selector (an epoll descriptor) with this runtime's reactor.
    pub fn watch(&self, selector: BorrowedFd<'_>) -> io::Result<WatchedSelector> {
        let own = selector.try_clone_to_owned()?;
        let _entered = self.runtime.enter();
        // SAFETY: the AsyncFd owns the duplicate, so it stays open (the same epoll instance)
        // for as long as the registration lives.
        unsafe { AsyncFd::register_with_interest(own, tokio::io::Interest::READABLE) }
            .map(WatchedSelector)
            .map_err(|e| e.into_parts().1)
    }

    /// Does HTTP work on this thread until `selector` is readable or `timeout` has passed;
    /// with a zero timeout (the loop has callbacks ready), one round: the requests ready to
    /// run, then one look for I/O. Must run on the thread that owns this runtime, without the
    /// GIL (no HTTP work needs it).
    pub fn drive(&self, selector: &WatchedSelector, timeout: Option<Duration>) -> io::Result<()> {
        let _restore = TagGuard(TAG.replace(self.tag));
        let watched = &selector.0;
        let fd = watched.as_raw_fd();
        self.runtime.block_on(async {
            self.spawn_pending();
            if timeout == Some(Duration::ZERO) || readable_now(fd) {
                tokio::task::yield_now().await;
                return Ok(());
            }
            let ready = async {
                loop {
                    let mut guard = watched.readable().await?;
                    if readable_now(fd) {
                        return Ok::<(), io::Error>(());
                    }
                    guard.clear_ready();
                }
            };
            match timeout {
                None => ready.await?,
                Some(timeout) => {
                    if let Ok(result) = tokio::time::timeout(timeout, ready).await {
                        result?;
                    }
                }
            }
            // One more round, so that responses which arrived together are handed over in
            // one batch rather than one loop iteration each.
            tokio::task::yield_now().await;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsFd, FromRawFd};
    use std::sync::Arc;
    use std::time::Instant;

    /// An epoll instance watching one eventfd, as an event loop's selector watches its fds.
    struct Selector {
        epoll: OwnedFd,
        event: OwnedFd,
    }

    impl Selector {
        fn new() -> Selector {
            // SAFETY: plain syscalls; the results are checked and owned below.
            unsafe {
                let epoll = libc::epoll_create1(libc::EPOLL_CLOEXEC);
                let event = libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC);
                assert!(epoll >= 0 && event >= 0);
                let mut interest = libc::epoll_event {
                    events: libc::EPOLLIN as u32,
                    u64: 0,
                };
                assert_eq!(
                    libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, event, &mut interest),
                    0
                );
                Selector {
                    epoll: OwnedFd::from_raw_fd(epoll),
                    event: OwnedFd::from_raw_fd(event),
                }
            }
        }

        /// A way for a task to make the selector readable.
        fn signal_fd(&self) -> RawFd {
            self.event.as_raw_fd()
        }
    }

    fn signal(fd: RawFd) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an eventfd the test owns.
        unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }

    #[test]
    fn drive_runs_http_work_on_this_thread_until_the_selector_is_readable() {
        let runtime = loop_runtime().unwrap();
        let selector = Selector::new();
        let watched = runtime.watch(selector.epoll.as_fd()).unwrap();
        let fd = selector.signal_fd();
        let thread = std::thread::current().id();
        let ran_on = Arc::new(std::sync::Mutex::new(None));
        let record = ran_on.clone();
        runtime.handle().spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            *record.lock().unwrap() = Some((std::thread::current().id(), current_tag()));
            signal(fd);
        });
        let started = Instant::now();
        runtime.drive(&watched, None).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(25));
        assert_eq!(*ran_on.lock().unwrap(), Some((thread, runtime.tag)));
        assert_eq!(current_tag(), 0, "the tag is only set while driving");
    }

    #[test]
    fn drive_returns_after_its_timeout_and_at_once_with_a_zero_timeout() {
        let runtime = loop_runtime().unwrap();
        let selector = Selector::new();
        let watched = runtime.watch(selector.epoll.as_fd()).unwrap();
        let started = Instant::now();
        runtime
            .drive(&watched, Some(Duration::from_millis(40)))
            .unwrap();
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(35) && waited < Duration::from_secs(2));

        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        runtime
            .handle()
            .spawn(async move { flag.store(true, Ordering::SeqCst) });
        let started = Instant::now();
        runtime.drive(&watched, Some(Duration::ZERO)).unwrap();
        assert!(started.elapsed() < Duration::from_millis(20));
        assert!(
            ran.load(Ordering::SeqCst),
            "ready work runs in a zero-timeout round"
        );
    }

    #[test]
    fn drive_returns_at_once_when_the_selector_is_already_readable() {
        let runtime = loop_runtime().unwrap();
        let selector = Selector::new();
        let watched = runtime.watch(selector.epoll.as_fd()).unwrap();
        signal(selector.signal_fd());
        let started = Instant::now();
        runtime.drive(&watched, None).unwrap();
        assert!(started.elapsed() < Duration::from_millis(500));
    }
}

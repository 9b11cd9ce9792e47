//! libzmq's I/O threads as batch threads.
//!
//! A runner often shares one CPU with the I/O thread of its message socket. As an ordinary
//! thread, the I/O thread preempts the runner's bus thread the moment a frame wakes it, moves
//! a handful of frames and sleeps again: thousands of context switches a second at a
//! runner's message rates. As a `SCHED_BATCH` thread it is never woken ahead of the
//! running thread, so it runs when the sender pauses and moves everything queued at once
//! (`bench/RESULTS.md`, "Distributed mode"). Scheduling across CPUs is unchanged.
//!
//! libzmq starts a context's threads when its first socket is created, and new threads take
//! the creating thread's policy; so the caller is a batch thread for that moment only.

/// Runs `create` (which creates a context's first socket) so that the threads libzmq starts
/// meanwhile are `SCHED_BATCH`; the calling thread's own policy is restored afterwards. Only
/// an ordinary (`SCHED_OTHER`) caller is changed: real-time or idle callers keep theirs.
pub fn with_batch_io_threads<T>(create: impl FnOnce() -> T) -> T {
    // SAFETY: plain syscalls on the calling thread (pid 0) with a valid, initialised param.
    let zero = libc::sched_param { sched_priority: 0 };
    let ordinary = unsafe { libc::sched_getscheduler(0) } == libc::SCHED_OTHER;
    let switched =
        ordinary && unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &zero) } == 0;
    let created = create();
    if switched {
        // SAFETY: as above; going back to SCHED_OTHER needs no privilege.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &zero) };
    }
    created
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn threads() -> HashSet<i32> {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
            .collect()
    }

    /// libzmq's threads started while creating a context's first socket (threads other tests
    /// start meanwhile may be among them): how many of them are batch threads.
    fn batch_threads_started(wrapped: bool) -> usize {
        let before = threads();
        let context = zmq::Context::new();
        let create = || context.socket(zmq::PUSH).unwrap();
        let socket = if wrapped {
            with_batch_io_threads(create)
        } else {
            create()
        };
        let batch = threads()
            .difference(&before)
            .filter(|tid| unsafe { libc::sched_getscheduler(**tid) } == libc::SCHED_BATCH)
            .count();
        drop(socket);
        batch
    }

    #[test]
    fn libzmqs_threads_are_batch_threads_and_the_caller_is_not() {
        assert_eq!(batch_threads_started(false), 0);
        // The I/O thread and the reaper.
        assert!(batch_threads_started(true) >= 2);
        assert_eq!(unsafe { libc::sched_getscheduler(0) }, libc::SCHED_OTHER);
    }
}

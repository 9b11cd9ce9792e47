//! The way back from worker threads to an event loop: finished work is queued and an eventfd
//! is written once per batch; the loop watches the eventfd and takes the whole batch.
//!
//! Generic over what is delivered, so HTTP exchanges and other protocols' results share it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, MutexGuard};

/// A multi-producer queue drained by one event loop, with an eventfd that is readable while
/// something is queued.
pub struct CompletionQueue<T> {
    items: Mutex<Vec<T>>,
    eventfd: OwnedFd,
}

impl<T> CompletionQueue<T> {
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; a negative result is an error.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(CompletionQueue {
            items: Mutex::new(Vec::new()),
            // SAFETY: a fresh descriptor we own.
            eventfd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// The descriptor an event loop watches for readability.
    pub fn fd(&self) -> RawFd {
        self.eventfd.as_raw_fd()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<T>> {
        // A producer that panicked left a valid Vec behind; keep delivering.
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues one item; wakes the loop only if the queue was empty (one wake per batch).
    pub fn push(&self, item: T) {
        let was_empty = {
            let mut items = self.lock();
            let was_empty = items.is_empty();
            items.push(item);
            was_empty
        };
        if was_empty {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our eventfd. A full counter (EAGAIN)
            // still leaves the fd readable, which is all that matters.
            unsafe { libc::write(self.eventfd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }

    /// Everything queued so far. The eventfd is reset first, so a push racing with this
    /// either lands in this batch or wakes the loop again.
    pub fn take(&self) -> Vec<T> {
        let mut counter: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64; EAGAIN (nothing pending) is fine.
        unsafe {
            libc::read(
                self.eventfd.as_raw_fd(),
                (&mut counter as *mut u64).cast(),
                8,
            )
        };
        std::mem::take(&mut *self.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn readable(fd: RawFd) -> bool {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd, zero timeout.
        unsafe { libc::poll(&mut poll, 1, 0) == 1 }
    }

    #[test]
    fn the_fd_is_readable_only_while_something_is_queued() {
        let queue = CompletionQueue::new().unwrap();
        assert!(!readable(queue.fd()));
        queue.push(1);
        assert!(readable(queue.fd()));
        assert_eq!(queue.take(), [1]);
        assert!(!readable(queue.fd()));
        assert!(queue.take().is_empty());
    }

    #[test]
    fn a_batch_from_other_threads_arrives_whole_and_in_push_order_per_thread() {
        let queue = Arc::new(CompletionQueue::new().unwrap());
        let producers: Vec<_> = (0..4u64)
            .map(|t| {
                let queue = queue.clone();
                std::thread::spawn(move || (0..1000u64).for_each(|i| queue.push((t, i))))
            })
            .collect();
        producers.into_iter().for_each(|p| p.join().unwrap());
        assert!(readable(queue.fd()));
        let items = queue.take();
        assert_eq!(items.len(), 4000);
        for t in 0..4 {
            let mine: Vec<u64> = items.iter().filter(|i| i.0 == t).map(|i| i.1).collect();
            assert_eq!(mine, (0..1000).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_push_after_take_wakes_the_loop_again() {
        let queue = CompletionQueue::new().unwrap();
        queue.push("a");
        queue.take();
        queue.push("b");
        assert!(readable(queue.fd()));
        assert_eq!(queue.take(), ["b"]);
    }
}

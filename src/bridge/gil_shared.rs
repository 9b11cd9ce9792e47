//! Interior mutability for the event loop's hot classes without pyo3's thread checks.
//!
//! A `#[pyclass]` must be `Sync` unless it is `unsendable`, and an `unsendable` class checks the
//! current thread on every borrow and refuses to be freed on another thread. The journey
//! driver's classes are borrowed several times per request, where that check (a thread-local
//! lookup and a reference count on the current thread's handle) was about 1% of the time.
//!
//! Their `Cell`/`RefCell` fields are wrapped in [`GilShared`] instead: they are only reached
//! through a class borrow, which needs a thread attached to the interpreter, and the module is
//! declared `gil_used = true`, so the GIL is held (a free-threaded Python re-enables it on
//! import): one thread at a time, as with the thread check, but from any thread.

use std::ops::{Deref, DerefMut};

/// A `Cell` or `RefCell` field of a pyclass that is only touched with the GIL held.
#[derive(Default)]
pub struct GilShared<T>(T);

impl<T> GilShared<T> {
    pub const fn new(value: T) -> Self {
        GilShared(value)
    }
}

impl<T> Deref for GilShared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for GilShared<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

// SAFETY: see the module comment: every access happens with the GIL held, so no two threads
// use the inner cell at once; `T: Send` lets its contents move to whichever thread holds it.
unsafe impl<T: Send> Sync for GilShared<T> {}

//! SIGINT, SIGTERM and SIGUSR1 for components that run until stopped: the handlers only set
//! flags, which the components' loops read between frames, so a stop always flushes first.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};

static STOPPED_BY: AtomicI32 = AtomicI32::new(0);
static STOPS: AtomicU32 = AtomicU32::new(0);
static USR1: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(signal: libc::c_int) {
    // Only async-signal-safe work here: atomic stores.
    if signal == libc::SIGUSR1 {
        USR1.store(true, Ordering::SeqCst);
    } else {
        STOPPED_BY.store(signal, Ordering::SeqCst);
        STOPS.fetch_add(1, Ordering::SeqCst);
    }
}

/// The signal that asked a component to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoppedBy {
    Interrupt,
    Terminate,
}

impl StoppedBy {
    /// The shell's exit code for a process ended by this signal (130, 143).
    pub fn exit_code(self) -> i32 {
        128 + self.signal()
    }

    /// The signal's number, to pass it on.
    pub fn signal(self) -> libc::c_int {
        match self {
            StoppedBy::Interrupt => libc::SIGINT,
            StoppedBy::Terminate => libc::SIGTERM,
        }
    }
}

/// The process's stop signals, routed to flags (replacing Python's handlers while a
/// component runs: its loop holds no Python code to interrupt).
pub struct StopSignals(());

impl StopSignals {
    pub fn install() -> std::io::Result<Self> {
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGUSR1] {
            // SAFETY: a zeroed sigaction with a handler that only stores atomics is valid;
            // sigaction is called with pointers to live values.
            let installed = unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut())
            };
            if installed != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(StopSignals(()))
    }

    /// The stop signal received, if any.
    pub fn stopped_by(&self) -> Option<StoppedBy> {
        match STOPPED_BY.load(Ordering::SeqCst) {
            0 => None,
            s if s == libc::SIGTERM => Some(StoppedBy::Terminate),
            _ => Some(StoppedBy::Interrupt),
        }
    }

    /// How many stop signals have arrived (a second one asks for more haste).
    pub fn stops(&self) -> u32 {
        STOPS.load(Ordering::SeqCst)
    }

    /// Whether SIGUSR1 arrived since the last call.
    pub fn take_usr1(&self) -> bool {
        USR1.swap(false, Ordering::SeqCst)
    }
}

//! The runner processes of `scenario test --runners N`: `mite runner` children (through
//! `mite._runner_process`, which gives them this process's `sys.path`) in their own process
//! group (so a terminal's Ctrl-C reaches this process only, which passes
//! one signal on), ended with this process if it dies (Linux's parent-death signal).

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};

pub struct RunnerProcesses {
    children: Vec<Runner>,
}

struct Runner {
    child: Child,
    status: Option<ExitStatus>,
}

/// Copies a runner's stderr to ours a line at a time, on a thread of its own that ends with
/// the runner's stderr.
fn forward_lines(stderr: std::process::ChildStderr) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("mite-runner-log".into())
        .spawn(move || {
            let mut reader = std::io::BufReader::new(stderr);
            let mut line = Vec::new();
            loop {
                line.clear();
                match std::io::BufRead::read_until(&mut reader, b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => mite_core::logging::write_stderr(&String::from_utf8_lossy(&line)),
                }
            }
        })
        .map(drop)
}

/// How a runner process ended, for a log line.
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "ended".to_owned(),
    }
}

impl RunnerProcesses {
    /// Starts `count` runners: `python` running `mite runner` with `args`, importing from
    /// `sys_path` (JSON).
    pub fn start(
        python: &str,
        sys_path: &str,
        args: &[String],
        count: usize,
    ) -> std::io::Result<Self> {
        let mut processes = RunnerProcesses {
            children: Vec::with_capacity(count),
        };
        for _ in 0..count {
            let mut command = Command::new(python);
            command
                .args(["-m", "mite._runner_process"])
                .args(args)
                .env("MITE_RUNNER_SYS_PATH", sys_path)
                .stdin(Stdio::null())
                // Their log lines come through this process, which draws them around the
                // terminal's status line (mite_core::logging::write_stderr).
                .stderr(Stdio::piped())
                .process_group(0);
            #[cfg(target_os = "linux")]
            // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                command.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            match command.spawn() {
                Ok(mut child) => {
                    let stderr = child.stderr.take();
                    processes.children.push(Runner {
                        child,
                        status: None,
                    });
                    if let Err(e) = stderr.map_or(Ok(()), forward_lines) {
                        processes.kill();
                        processes.reap();
                        return Err(e);
                    }
                }
                Err(e) => {
                    // The runners already started are not left behind.
                    processes.kill();
                    processes.reap();
                    return Err(e);
                }
            }
        }
        Ok(processes)
    }

    /// Runner processes that ended since the last call: their pid and how they ended.
    pub fn reap(&mut self) -> Vec<(u32, ExitStatus)> {
        let mut ended = Vec::new();
        for runner in &mut self.children {
            if runner.status.is_none() {
                if let Ok(Some(status)) = runner.child.try_wait() {
                    runner.status = Some(status);
                    ended.push((runner.child.id(), status));
                }
            }
        }
        ended
    }

    pub fn running(&self) -> usize {
        self.children.iter().filter(|r| r.status.is_none()).count()
    }

    pub fn failed(&self) -> usize {
        self.children
            .iter()
            .filter(|r| r.status.is_some_and(|s| !s.success()))
            .count()
    }

    /// Sends `signal` to every runner still running.
    pub fn signal(&self, signal: libc::c_int) {
        for runner in self.children.iter().filter(|r| r.status.is_none()) {
            let pid = runner.child.id() as libc::pid_t;
            // SAFETY: kill has no memory effects; the pid is our child's, not yet reaped.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }

    /// SIGKILL to every runner still running.
    pub fn kill(&mut self) {
        for runner in self.children.iter_mut().filter(|r| r.status.is_none()) {
            let _ = runner.child.kill();
        }
    }
}

impl Drop for RunnerProcesses {
    /// No runner outlives the command, even when it ends through an error.
    fn drop(&mut self) {
        if self.running() > 0 {
            self.kill();
            for runner in self.children.iter_mut().filter(|r| r.status.is_none()) {
                let _ = runner.child.wait();
            }
        }
    }
}

"""One measurement: a tool on CPU 1 against the target, requests counted at the server."""

import contextlib
import dataclasses
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .process import TOOL_CPU, BenchError, cpu_seconds, log, pinned, rss_mib

# GNU time reports the tool's own max RSS. wait4() cannot: a child forked from this Python
# process starts its life with the parent's pages, and ru_maxrss keeps that high-water mark
# across exec, so every tool would seem to use at least what bench/run does.
GNU_TIME = "/usr/bin/time"


@dataclasses.dataclass
class Measurement:
    tool: str
    shape: str
    rep: int
    rate: float = 0.0  # requests per second in the window
    window_requests: int = 0
    window_seconds: float = 0.0
    requests: int = 0  # over the tool's whole run
    counted_by: str = "nginx"
    cpu_seconds: float = 0.0  # the whole run, user + system, from GNU time
    cpu_us_per_request: float = 0.0  # the whole run
    window_cpu_us_per_request: float = 0.0  # CPU during the window / requests in it
    core_percent: float = 0.0  # CPU during the window / its length
    max_rss_mib: float = 0.0
    exit_code: int | None = None
    stopped_by_harness: bool = False
    errors: int | None = None
    tool_requests: int | None = None
    scheduled: int | None = None  # an open model's starts that came due (whole run)
    dropped: int | None = None  # of those, starts the tool did not make
    wall_seconds: float = 0.0
    problem: str = ""


class Child:
    """A load generator pinned to CPU 1, in its own process group, run under GNU time for its
    CPU time and max RSS (its descendants' included)."""

    def __init__(self, launch, run_dir):
        self.stdout_path = run_dir / "stdout.log"
        self.stderr_path = run_dir / "stderr.log"
        self.time_path = run_dir / "time.txt"
        argv = [GNU_TIME, "--quiet", "-f", "%U %S %M", "-o", self.time_path]
        argv += pinned(TOOL_CPU, launch.argv)
        (run_dir / "command").write_text(f"cd {launch.cwd}\n{shlex.join(map(str, argv))}\n")
        self.started = time.monotonic()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                argv,
                env=launch.env,
                cwd=launch.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        self.pid = self.proc.pid  # GNU time's
        self._tool_pid = None
        self.rusage = None
        self.ended = None
        self.stopped_by_harness = False

    @property
    def tool_pid(self):
        """The tool's own process: GNU time's child."""
        deadline = time.monotonic() + 5
        while self._tool_pid is None:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
            with contextlib.suppress(OSError, ValueError, IndexError):
                self._tool_pid = int(children.read_text().split()[0])
            if self._tool_pid is None:
                if time.monotonic() > deadline or not self.alive():
                    raise BenchError(f"cannot find the process of `{self.proc.args}`")
                time.sleep(0.01)
        return self._tool_pid

    def usage(self):
        """(CPU seconds, max RSS in MiB) of the tool's whole run, once it has ended."""
        with contextlib.suppress(OSError, ValueError):
            user, system, max_rss_kib = self.time_path.read_text().split()[-3:]
            return float(user) + float(system), int(max_rss_kib) / 1024
        # GNU time was killed before it could write: wait4's figures, RSS overstated.
        return self.rusage.ru_utime + self.rusage.ru_stime, self.rusage.ru_maxrss / 1024

    def alive(self):
        if self.rusage is None:
            pid, status, rusage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                self._reaped(status, rusage)
        return self.rusage is None

    def _reaped(self, status, rusage):
        self.rusage = rusage
        self.ended = time.monotonic()
        self.proc.returncode = os.waitstatus_to_exitcode(status)

    def wait(self, timeout):
        """Wait for the tool to end by itself; after `timeout`, Ctrl-C, SIGTERM, SIGKILL."""
        deadline = time.monotonic() + timeout
        for sig, grace in (
            (None, 0),
            (signal.SIGINT, 15),
            (signal.SIGTERM, 5),
            (signal.SIGKILL, 5),
        ):
            if sig is not None:
                if not self.alive():
                    break
                self.stopped_by_harness = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, sig)
                deadline = time.monotonic() + grace
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.alive():
            self._reaped(*os.wait4(self.pid, 0)[1:])
        return self.proc.returncode

    def kill(self):
        if self.rusage is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.wait(5)

    def tail(self, lines=15):
        text = ""
        for path in (self.stdout_path, self.stderr_path):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace")
        return "\n".join(text.strip().splitlines()[-lines:])


def wait_for_traffic(status, child, before, timeout=60):
    """Monotonic time of the first request the tool made."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count, at = status.read()
        if count > before:
            return at
        if not child.alive():
            raise BenchError(
                f"the tool exited ({child.proc.returncode}) before sending a "
                f"request:\n{child.tail()}"
            )
        time.sleep(0.05)
    raise BenchError(f"no request reached the server within {timeout} s:\n{child.tail()}")


def interpolate(samples, at):
    """The value at time `at` of an increasing series sampled as (time, value)."""
    for (t0, v0), (t1, v1) in zip(samples, samples[1:], strict=False):
        if t0 <= at <= t1:
            return v0 + (v1 - v0) * (at - t0) / max(t1 - t0, 1e-9)
    return samples[0][1] if at < samples[0][0] else samples[-1][1]


def measure(tool, target, status, rep, keep_data=False):
    """Run `tool` once against `target`. With a `status` (nginx), the window starts
    `shape.warmup` s after the first request reaches the server and lasts `target.seconds`;
    without one (the demo app), the tool's own counts say what happened in its window."""
    shape = target.shape
    m = Measurement(tool.name, shape.key, rep)
    before = status.read()[0] if status else None
    child = Child(tool.launch(target), target.run_dir)
    window_cpu = None
    cpu_samples = []  # (epoch, CPU seconds), for a window known only after the run
    try:
        if status:
            first = wait_for_traffic(status, child, before)
            time.sleep(max(0.0, first + shape.warmup - time.monotonic()))
            (w0, t0), c0 = status.read(), cpu_seconds(child.tool_pid)
            time.sleep(target.seconds)
            (w1, t1), c1 = status.read(), cpu_seconds(child.tool_pid)
            if not child.alive():
                m.problem = "the tool ended before the window closed"
            m.window_requests, m.window_seconds, window_cpu = w1 - w0, t1 - t0, c1 - c0
        else:
            deadline = time.monotonic() + target.duration + 30
            while child.alive() and time.monotonic() < deadline:
                with contextlib.suppress(OSError, IndexError, ValueError):
                    cpu_samples.append((time.time(), cpu_seconds(child.tool_pid)))
                time.sleep(0.2)
        m.exit_code = child.wait(timeout=target.duration + 60)
    finally:
        child.kill()
    m.stopped_by_harness = child.stopped_by_harness
    m.wall_seconds = child.ended - child.started
    m.cpu_seconds, m.max_rss_mib = child.usage()
    counted = tool.counts(target, child.stdout_path.read_text(errors="replace"))
    m.tool_requests, m.errors = counted.get("requests"), counted.get("errors")
    m.scheduled, m.dropped = counted.get("scheduled"), counted.get("dropped")
    if status:
        m.requests = status.read()[0] - before
    else:
        m.counted_by = tool.name
        m.requests = counted.get("requests") or 0
        m.window_requests = counted.get("window") or 0
        m.window_seconds = counted.get("window_seconds") or 0.0
        start = counted.get("window_start")
        if start and cpu_samples:
            window_cpu = interpolate(cpu_samples, start + m.window_seconds) - interpolate(
                cpu_samples, start
            )
        else:  # the tool's whole run is its window
            window_cpu = m.cpu_seconds
    if m.window_seconds > 0:
        m.rate = m.window_requests / m.window_seconds
        m.core_percent = 100 * window_cpu / m.window_seconds
    if m.window_requests:
        m.window_cpu_us_per_request = 1e6 * window_cpu / m.window_requests
    if m.requests:
        m.cpu_us_per_request = 1e6 * m.cpu_seconds / m.requests
    if m.exit_code != 0 and not m.problem and not child.stopped_by_harness:
        m.problem = f"exit code {m.exit_code}"
    if not m.window_requests and not m.problem:
        m.problem = "no requests in the window"
    if m.problem:
        log(f"{tool.name} ({shape.key}): {m.problem}; last output:\n{child.tail()}")
    if not keep_data:
        for sub in ("collector_data", "recorder"):
            shutil.rmtree(target.run_dir / sub, ignore_errors=True)
    return m


def long_run(tool, target, status, sample_every=10.0):
    """`tool` on `target` for `target.seconds`, its RSS sampled every `sample_every` s from the
    start of the window."""
    before = status.read()[0]
    child = Child(tool.launch(target), target.run_dir)
    collector = target.run_dir / "collector_data"
    samples = []
    try:
        first = wait_for_traffic(status, child, before)
        time.sleep(max(0.0, first + target.shape.warmup - time.monotonic()))
        start_count, start_at = status.read()
        while child.alive():
            elapsed = time.monotonic() - start_at
            if elapsed >= target.seconds:
                break
            time.sleep(min(sample_every - elapsed % sample_every, target.seconds - elapsed))
            if not child.alive():
                break
            samples.append((round(time.monotonic() - start_at), rss_mib(child.tool_pid)))
            # Rolled collector files are never read again; dropping them keeps the disk free.
            for f in collector.glob("*"):
                if not f.name.startswith("current"):
                    f.unlink(missing_ok=True)
        end_count, end_at = status.read()
        exit_code = child.wait(timeout=target.duration + 60)
    finally:
        child.kill()
    shutil.rmtree(collector, ignore_errors=True)
    return {
        "seconds": target.seconds,
        "rate": (end_count - start_count) / max(end_at - start_at, 1e-9),
        "samples": samples,
        "max_rss_mib": child.usage()[1],
        "exit_code": exit_code,
    }

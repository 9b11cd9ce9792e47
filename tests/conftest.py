# --- mite CLI end-to-end helpers (test_cli.py, test_seed_walkthrough.py) ---------------------
#
# A `MiteProject` is a directory holding a user's journey and scenario files; the `mite` CLI runs
# in it as a subprocess, the way a user runs it. Journeys report what they saw with
# `from observe import observe; observe(key=value)`, which appends a JSON line that the test
# reads back with `project.observed()`.

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

MITE_CLI_TIMEOUT = 30

_OBSERVE_MODULE = '''\
"""Lets journeys written by the tests report what they saw, one JSON object per line."""

import json


def observe(**fields):
    with open({path!r}, "a") as handle:
        handle.write(json.dumps(fields) + "\\n")
'''


@dataclass
class MiteResult:
    """How a finished `mite` command ended."""

    returncode: int
    stdout: str
    stderr: str
    elapsed: float

    @property
    def stderr_lines(self):
        return self.stderr.splitlines()

    @property
    def error_lines(self):
        """The `mite: error:` lines: how the CLI reports bad input."""
        return [line for line in self.stderr_lines if line.startswith("mite: error:")]


class MiteProject:
    """A working directory with user files, in which the `mite` CLI is run."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._observations = self.path / "observed.jsonl"
        self.write("observe.py", _OBSERVE_MODULE.format(path=str(self._observations)))

    def write(self, name, source):
        """Writes a file (dedented) into the project; returns its path."""
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(source))
        return target

    def observed(self):
        """What the journeys reported with `observe(...)`, in order."""
        if not self._observations.exists():
            return []
        return [json.loads(line) for line in self._observations.read_text().splitlines()]

    def env(self, extra=None):
        # The tests choose the config themselves; nothing leaks in from the caller's shell.
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("MITE_CONF_", "MITE_EVAL_CONF_"))
        }
        for key, value in (extra or {}).items():
            if value is None:  # unset it
                env.pop(key, None)
            else:
                env[key] = value
        return env

    @staticmethod
    def command(console_script=False):
        """`python -m mite`, or the installed `mite` script (which, unlike `python -m`, does not
        put the working directory on sys.path by itself)."""
        if not console_script:
            return [sys.executable, "-m", "mite"]
        script = shutil.which("mite", path=str(Path(sys.executable).parent)) or shutil.which("mite")
        assert script, "the mite console script is not installed"
        return [script]

    def run(self, *args, timeout=MITE_CLI_TIMEOUT, env=None, console_script=False):
        started = time.monotonic()
        completed = subprocess.run(
            [*self.command(console_script), *args],
            cwd=self.path,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return MiteResult(
            completed.returncode,
            completed.stdout,
            completed.stderr,
            time.monotonic() - started,
        )

    def start(self, *args, env=None):
        """Starts `mite` in the background; output goes to files so a chatty run never blocks
        on a full pipe. Use `finish` to collect it."""
        stdout = open(self.path / "mite-stdout.txt", "w")
        stderr = open(self.path / "mite-stderr.txt", "w")
        try:
            process = subprocess.Popen(
                [*self.command(), *args],
                cwd=self.path,
                env=self.env(env),
                stdout=stdout,
                stderr=stderr,
                text=True,
            )
        finally:
            stdout.close()
            stderr.close()
        process.started_at = time.monotonic()
        return process

    def finish(self, process, timeout=MITE_CLI_TIMEOUT):
        """Waits for a process from `start`; kills it (and fails) if it outlives `timeout`."""
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            pytest.fail(f"mite did not finish within {timeout} s")
        return MiteResult(
            process.returncode,
            (self.path / "mite-stdout.txt").read_text(),
            (self.path / "mite-stderr.txt").read_text(),
            time.monotonic() - process.started_at,
        )


@pytest.fixture(scope="session")
def mite_project_factory():
    """`factory(path)` -> MiteProject; for module-scoped fixtures that share one run."""
    return MiteProject


@pytest.fixture
def mite_project(tmp_path):
    return MiteProject(tmp_path)


@pytest.fixture
def demo_app():
    """A demo app on a free port of 127.0.0.1; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mite", "demo-app", "--port", "0", "--threads", "1"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stderr.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=10)


def prometheus_tool(name):
    """The path of `prometheus` or `promtool` (Debian's prometheus package). Missing, the test
    is skipped, unless MITE_REQUIRE_PROMETHEUS is set (as .ci/run does), where it fails."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian's prometheus package; .ci/run installs it)"
        if os.environ.get("MITE_REQUIRE_PROMETHEUS"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port():
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def original_venv():
    """Original mite 2.11.0's virtualenv, from MITE_ORIGINAL_VENV (`.ci/run` makes it). Without
    it the test is skipped, or fails when MITE_REQUIRE_ORIGINAL is set (as `.ci/run` does)."""
    venv = os.environ.get("MITE_ORIGINAL_VENV")
    if not venv or not (Path(venv) / "bin" / "mite").exists():
        message = "original mite 2.11.0 is not installed (set MITE_ORIGINAL_VENV; .ci/run does)"
        if os.environ.get("MITE_REQUIRE_ORIGINAL"):
            pytest.fail(message)
        pytest.skip(message)
    return Path(venv)

"""Child processes: short helper commands, CPU pinning, and what /proc says about a process."""

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

SERVER_CPU = 0
TOOL_CPU = 1


class BenchError(Exception):
    """Setup or a measurement failed; the message says what happened."""


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def clean_env(**extra):
    """The environment for children: no proxies, so every request stays on 127.0.0.1."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(argv, check=True, env=None, **kwargs):
    """A short helper command (setup, versions); its output is returned, not shown."""
    argv = [str(a) for a in argv]
    result = subprocess.run(argv, capture_output=True, text=True, env=env or clean_env(), **kwargs)
    if check and result.returncode != 0:
        raise BenchError(
            f"`{shlex.join(argv)}` failed ({result.returncode}):\n"
            f"{result.stdout[-2000:]}{result.stderr[-4000:]}"
        )
    return result


def pinned(cpu, argv):
    return ["taskset", "-c", str(cpu), *[str(a) for a in argv]]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what} exited with {proc.returncode} while starting")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        time.sleep(0.05)
    raise BenchError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def stop_process(proc, sig):
    """Stop a server we started (its own process group), killing it if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def cpu_seconds(pid):
    """User + system CPU of a live process, all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0

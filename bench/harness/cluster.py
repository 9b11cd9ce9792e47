"""Runs one scenario as distributed mode's smallest cluster, for `bench/run`'s
`mite-rs-distributed` tools: a controller, one runner, a duplicator and a collector, each its
own process on 127.0.0.1. The harness pins this script, and so all of them, to the load
generator's CPU, the CPU the in-process run has to itself; with `--others-cpu=N` only the
runner stays there and the controller, duplicator and collector move to CPU N.

    python cluster.py [--others-cpu=N] MITE... -- SCENARIO_SPEC [controller options]

MITE is the command that starts mite (e.g. `/venv/bin/mite`). Ends when the controller does
(its scenario's duration), after the runner has said bye and the collector has written what
it got; the exit code is the controller's.
"""

import signal
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv):
    others_cpu = None
    if argv and argv[0].startswith("--others-cpu="):
        others_cpu = int(argv.pop(0).split("=", 1)[1])
    split = argv.index("--")
    mite, controller_args = argv[:split], argv[split + 1 :]
    address = {
        name: f"tcp://127.0.0.1:{free_port()}" for name in ("controller", "message", "collector")
    }

    def start(*args, pin=True):
        # taskset execs the command: the pid, and so the signals, stay the component's.
        moved = ["taskset", "-c", str(others_cpu)] if pin and others_cpu is not None else []
        return subprocess.Popen([*moved, *mite, *args])

    # Consumers first, so the runner's first messages have somewhere to go.
    duplicator = start("duplicator", f"--message-socket={address['message']}", address["collector"])
    collector = start("collector", f"--collector-socket={address['collector']}")
    controller = start(
        "controller",
        *controller_args,
        f"--controller-socket={address['controller']}",
        f"--message-socket={address['message']}",
    )
    time.sleep(0.5)
    runner = start(
        "runner",
        f"--controller-socket={address['controller']}",
        f"--message-socket={address['message']}",
        pin=False,
    )
    try:
        code = controller.wait()
        runner.wait(timeout=60)
        # What the runner sent has passed through once the duplicator is idle.
        time.sleep(1.0)
    finally:
        for process in (runner, controller, duplicator, collector):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in (runner, controller, duplicator, collector):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

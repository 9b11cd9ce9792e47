"""`mite runner` against a scripted controller (a pyzmq REP socket in this process, speaking
mite's frames): the exchange a runner makes, config from the hello, draining and bye after
stop, and the ways a controller can fail it."""

import subprocess
import sys
import threading
import time

import msgpack
import pytest
import zmq
from conftest import free_port

JOURNEYS = """\
import asyncio


async def noted(ctx, n):
    ctx.send("noted", n=n, seen=ctx.config.get("greeting"))
    await asyncio.sleep(0.05)


async def brief(ctx):
    ctx.send("brief")
    await asyncio.sleep(0.01)
"""


def pack(value):
    return msgpack.packb(value, use_bin_type=True)


def unpack(frame):
    return msgpack.unpackb(frame, raw=False, use_list=False, strict_map_key=False)


class ScriptedController:
    """Answers hello with a config, hands out `items` work items in the first replies, then
    says stop; records every request. `silent_after` stops answering after that many
    requests (a controller that went away); `garbage` answers the hello with bad bytes."""

    def __init__(self, items, silent_after=None, garbage=False):
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.items = list(items)
        self.silent_after = silent_after
        self.garbage = garbage
        self.requests = []
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.REP)
        self.socket.bind(self.address)
        self.socket.setsockopt(zmq.RCVTIMEO, 200)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve)
        self.thread.start()

    def _serve(self):
        while not self.stopped.is_set():
            try:
                kind, content = unpack(self.socket.recv())
            except zmq.Again:
                continue
            self.requests.append((kind, content))
            if self.silent_after is not None and len(self.requests) > self.silent_after:
                return
            if self.garbage:
                self.socket.send(b"\xc1\xc1")
            elif kind == 1:
                self.socket.send(pack((7, "scripted:test", [("greeting", "hi")])))
            elif kind == 2:
                work, self.items = self.items[:2], self.items[2:]
                self.socket.send(pack((work, [], not work and not self.items)))
            else:
                self.socket.send(pack(None))

    def close(self):
        self.stopped.set()
        self.thread.join(timeout=5)
        self.socket.close(linger=0)
        self.context.term()


@pytest.fixture
def project(tmp_path):
    (tmp_path / "scripted.py").write_text(JOURNEYS)
    return tmp_path


def run_runner(project, controller, messages, timeout=60, max_loop_delay=0.2, extra=()):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mite",
            "runner",
            f"--controller-socket={controller}",
            f"--message-socket={messages}",
            f"--max-loop-delay={max_loop_delay}",
            *extra,
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def collect(address):
    context = zmq.Context()
    pull = context.socket(zmq.PULL)
    pull.bind(address)
    pull.setsockopt(zmq.RCVTIMEO, 1000)
    received = []

    def drain():
        while True:
            try:
                received.append(unpack(pull.recv()))
            except zmq.Again:
                return

    return pull, context, received, drain


def run_collected(project, controller, **run_args):
    """Runs a runner against `controller` with its messages collected; closes the controller
    and the collecting socket. Returns the runner's result and the messages it sent."""
    messages = f"tcp://127.0.0.1:{free_port()}"
    pull, context, received, drain = collect(messages)
    try:
        result = run_runner(project, controller.address, messages, **run_args)
        drain()
    finally:
        controller.close()
        pull.close()
        context.term()
    return result, received


def test_a_runner_runs_the_work_it_is_given_and_reports_it_back(project):
    items = [(1, i, "scripted:noted", (i,)) for i in range(1, 6)]
    controller = ScriptedController(items)
    result, received = run_collected(project, controller)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    noted = [m for m in received if m["type"] == "noted"]
    assert sorted(m["n"] for m in noted) == [1, 2, 3, 4, 5]
    # The hello's config is ctx.config; the envelope carries the hello's ids.
    assert {m["seen"] for m in noted} == {"hi"}
    assert {(m["test"], m["runner_id"], m["journey"]) for m in noted} == {
        ("scripted:test", 7, "scripted:noted")
    }
    assert sorted(m["scenario_data_id"] for m in noted) == [1, 2, 3, 4, 5]
    kinds = [kind for kind, _ in controller.requests]
    assert kinds[0] == 1 and kinds[-1] == 3, kinds
    assert controller.requests[-1][1] == 7
    # Every item id comes back as completed, exactly once.
    completed = [pair for kind, c in controller.requests if kind == 2 for pair in c[2]]
    assert sorted(completed) == [(1, i) for i in range(1, 6)]
    # The last request before bye asks for nothing more.
    assert controller.requests[-2][0] == 2 and controller.requests[-2][1][3] == 0


def test_journeys_without_datapool_items_are_refilled_as_they_finish(project):
    # Nothing to report back, yet the finished journeys' places are asked for at once, not
    # at the next --max-loop-delay (30 s here: five replies of two items would take minutes).
    items = [(1, None, "scripted:brief", None) for _ in range(10)]
    controller = ScriptedController(items)
    started = time.monotonic()
    result, received = run_collected(project, controller, max_loop_delay=30)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert sum(m["type"] == "brief" for m in received) == 10
    work_requests = [c for kind, c in controller.requests if kind == 2]
    assert len(work_requests) >= 5
    # Not one request waited for the loop delay (the first one neither).
    assert elapsed < 20, elapsed


class TimedRequests(list):
    """A controller's request log that notes when each request arrived."""

    def __init__(self):
        super().__init__()
        self.times = []

    def append(self, request):
        self.times.append(time.monotonic())
        super().append(request)


def test_min_loop_delay_spaces_a_runners_requests(project):
    items = [(1, None, "scripted:brief", None) for _ in range(8)]
    controller = ScriptedController(items)
    log = controller.requests = TimedRequests()  # before the runner starts asking
    result, received = run_collected(project, controller, extra=["--min-loop-delay=0.3"])
    assert result.returncode == 0, result.stderr
    assert sum(m["type"] == "brief" for m in received) == 8
    work = [t for t, (kind, _) in zip(log.times, log, strict=True) if kind == 2]
    gaps = [later - earlier for earlier, later in zip(work, work[1:], strict=False)]
    # (The last one, which reports the last journeys before bye, goes at once.)
    assert len(gaps) >= 3 and min(gaps[:-1]) >= 0.28, gaps


class StandingController(ScriptedController):
    """A mite-rs controller's side of standing work: the first work reply grants `journeys`
    of scenario 1 for `valid_for` seconds and no items; every later reply says stop."""

    def __init__(self, journeys, valid_for):
        self.grant = [valid_for, [[1, journeys, "scripted:brief"]]]
        super().__init__([])

    def _serve(self):
        while not self.stopped.is_set():
            try:
                kind, content = unpack(self.socket.recv())
            except zmq.Again:
                continue
            self.requests.append((time.monotonic(), kind, content))
            if kind == 1:
                self.socket.send(pack((7, "scripted:test", [])))
            elif kind == 2 and len(self.requests) == 2:
                self.socket.send(pack(([], [], False, self.grant)))
            elif kind == 2:
                self.socket.send(pack(([], [], True)))
            else:
                self.socket.send(pack(None))


def test_a_runner_offers_standing_work_and_keeps_its_journeys_running(project):
    controller = StandingController(journeys=3, valid_for=1.0)
    result, received = run_collected(project, controller, max_loop_delay=30)
    assert result.returncode == 0, result.stderr
    hello, first, second = controller.requests[:3]
    assert (hello[1], hello[2]) == (1, {"standing_work": True})
    # The three journeys were replaced as they ended (10 ms each) without asking: the next
    # request came when the grant ran out, holding the three.
    assert second[1] == 2 and second[0] - first[0] >= 0.9, controller.requests[:3]
    assert second[2][1] == {1: 3}
    assert sum(m["type"] == "brief" for m in received) >= 30
    assert {m["scenario_data_id"] for m in received if m["type"] == "brief"} == {None}
    # After stop, nothing new starts: the rest of the exchange is draining and bye.
    assert controller.requests[-1][1] == 3


def test_a_runner_whose_controller_goes_silent_stops_with_one_line(project):
    items = [(1, i, "scripted:noted", (i,)) for i in range(1, 1000)]
    controller = ScriptedController(items, silent_after=3)
    messages = f"tcp://127.0.0.1:{free_port()}"
    started = time.time()
    try:
        result = run_runner(project, controller.address, messages, timeout=40)
    finally:
        controller.close()
    assert result.returncode == 1, result.stderr
    assert time.time() - started < 30
    lines = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert any(
        f"the controller at {controller.address} did not answer" in line for line in lines
    ), result.stderr
    assert "Traceback" not in result.stderr and "panicked" not in result.stderr


def test_a_malformed_controller_reply_is_one_line(project):
    controller = ScriptedController([], garbage=True)
    try:
        result = run_runner(project, controller.address, f"tcp://127.0.0.1:{free_port()}")
    finally:
        controller.close()
    assert result.returncode == 1
    assert f"mite: error: controller at {controller.address}: not msgpack" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_journey_the_runner_cannot_import_is_one_line(project):
    controller = ScriptedController([(1, 1, "scripted:missing", (1,))])
    try:
        result = run_runner(project, controller.address, f"tcp://127.0.0.1:{free_port()}")
    finally:
        controller.close()
    assert result.returncode == 1
    assert "cannot import journey scripted:missing" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    # The item it could not run went back.
    completed = [pair for kind, c in controller.requests if kind == 2 for pair in c[2]]
    assert completed == [(1, 1)], controller.requests


def test_bad_runner_addresses_are_one_line(project):
    result = subprocess.run(
        [sys.executable, "-m", "mite", "runner", "--controller-socket=localhost:1"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert 'mite: error: --controller-socket: "localhost:1" is not a ZeroMQ address' in (
        result.stderr
    ), result.stderr

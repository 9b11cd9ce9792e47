"""`mite controller` with `mite runner`s as separate processes over real ZeroMQ sockets: the
work shared across runners, config set by the scenario function reaching every runner, the
end of the test, a runner killed mid-run, interrupts and requests that are not mite's."""

import os
import signal
import subprocess
import sys
import time

import msgpack
import pytest
import zmq
from conftest import free_port

PROJECT = """\
import asyncio

from mite.datapools import IterableDataPool, RecyclableIterableDataPool


async def noted(ctx, n):
    ctx.send("noted", n=n, seen=ctx.config.get("greeting"))
    # Long enough (1.5 s in all) for controller reports of the two runners.
    await asyncio.sleep(0.1)


async def forever(ctx, n):
    ctx.send("noted", n=n, seen=None)
    await asyncio.sleep(0.05)


def scenario(config):
    config.set("greeting", "hello")
    return [["cluster:noted", IterableDataPool([(i,) for i in range({items})]), lambda s, e: 4]]


def endless():
    pool = RecyclableIterableDataPool([(i,) for i in range(8)])
    return [["cluster:forever", pool, lambda s, e: 4]]
"""


def tcp():
    return f"tcp://127.0.0.1:{free_port()}"


class Cluster:
    def __init__(self, tmp_path, items=60):
        self.dir = tmp_path
        (tmp_path / "cluster.py").write_text(PROJECT.format(items=items))
        self.controller_socket, self.messages = tcp(), tcp()
        self.context = zmq.Context()
        self.pull = self.context.socket(zmq.PULL)
        self.pull.bind(self.messages)
        self.pull.setsockopt(zmq.RCVTIMEO, 1500)
        self.processes = []

    def start(self, *args):
        process = subprocess.Popen(
            [sys.executable, "-m", "mite", *args],
            cwd=self.dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def controller(self, spec="cluster:scenario"):
        return self.start(
            "controller",
            spec,
            f"--controller-socket={self.controller_socket}",
            f"--message-socket={self.messages}",
        )

    def runner(self):
        return self.start(
            "runner",
            f"--controller-socket={self.controller_socket}",
            f"--message-socket={self.messages}",
            "--max-loop-delay=0.2",
        )

    def received(self, seconds=30):
        """What has arrived, until a quiet 1.5 s or `seconds` (an endless scenario never
        goes quiet)."""
        messages = []
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                messages.append(msgpack.unpackb(self.pull.recv(), raw=False, strict_map_key=False))
            except zmq.Again:
                break
        return messages

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.communicate()
        self.pull.close(linger=0)
        self.context.term()


@pytest.fixture
def cluster(tmp_path):
    cluster = Cluster(tmp_path)
    yield cluster
    cluster.close()


def test_runners_share_a_scenario_and_everything_ends_cleanly(cluster):
    controller = cluster.controller()
    runners = [cluster.runner(), cluster.runner()]
    for runner in runners:
        out, err = runner.communicate(timeout=90)
        assert runner.returncode == 0, err
        assert "Traceback" not in err
    out, err = controller.communicate(timeout=30)
    assert controller.returncode == 0, err
    assert "Removed scenario 1 because data pool exhausted" in err
    messages = cluster.received()
    noted = [m for m in messages if m["type"] == "noted"]
    # Each datapool item ran exactly once, across both runners.
    assert sorted(m["n"] for m in noted) == list(range(60))
    assert {m["runner_id"] for m in noted} == {1, 2}
    # config.set in the scenario function reached every runner's ctx.config.
    assert {m["seen"] for m in noted} == {"hello"}
    reports = [m for m in messages if m["type"] == "controller_report"]
    assert reports and reports[0]["test"] == "cluster:scenario"
    assert max(r["num_runners"] for r in reports) == 2


def test_a_killed_runners_share_moves_to_the_other(cluster):
    controller = cluster.controller("cluster:endless")
    first, second = cluster.runner(), cluster.runner()
    deadline = time.time() + 20
    seen = set()
    while time.time() < deadline and seen != {1, 2}:
        seen |= {m["runner_id"] for m in cluster.received(1) if m["type"] == "noted"}
    assert seen == {1, 2}
    first.kill()
    first.communicate()
    # After the controller's 10 s of silence, the survivor runs the whole volume of 4.
    cluster.received(12)
    reports = [m for m in cluster.received(5) if m["type"] == "controller_report"]
    assert reports and all(r["num_runners"] == 1 for r in reports), reports
    assert any(r["actual"] == {1: 4} for r in reports), reports
    controller.send_signal(signal.SIGINT)
    out, err = controller.communicate(timeout=20)
    assert controller.returncode == 130, err
    assert "went silent; its share moves to the others" in err
    assert "Received interrupt signal, telling the runners to stop" in err
    # The survivor is told to stop, finishes its journeys and says bye.
    out, err = second.communicate(timeout=30)
    assert second.returncode == 0, err
    assert "Traceback" not in err


def test_runners_of_a_killed_controller_stop_within_bounds_with_one_line(cluster):
    controller = cluster.controller("cluster:endless")
    runner = cluster.runner()
    deadline = time.time() + 20
    while time.time() < deadline and not any(m["type"] == "noted" for m in cluster.received(1)):
        pass
    controller.kill()
    controller.communicate()
    killed_at = time.time()
    out, err = runner.communicate(timeout=30)
    assert runner.returncode == 1
    assert time.time() - killed_at < 25
    assert "did not answer for 10 s" in err
    assert "Traceback" not in err


def test_requests_that_are_not_mites_are_answered_and_logged_once(cluster):
    controller = cluster.controller()
    context = zmq.Context()
    req = context.socket(zmq.REQ)
    req.connect(cluster.controller_socket)
    req.setsockopt(zmq.RCVTIMEO, 10000)
    truncated = msgpack.packb([2, [1, [[1, 3]], [[1, 7]], None]])[:-4]
    for frame in [b"\xc1", msgpack.packb([9, None]), msgpack.packb("hello"), truncated]:
        req.send(frame)
        assert msgpack.unpackb(req.recv()) is None
    req.send_multipart([msgpack.packb([1, None]), b"more"])
    assert msgpack.unpackb(req.recv()) is None
    # Oversized: libzmq drops the sender's connection; the controller goes on.
    big = context.socket(zmq.REQ)
    big.connect(cluster.controller_socket)
    big.send(msgpack.packb([1, "x" * (17 << 20)]))
    time.sleep(0.5)
    big.close(linger=0)
    # A real hello still works afterwards.
    req.send(msgpack.packb([1, None]))
    runner_id, test_name, config = msgpack.unpackb(req.recv(), raw=False)
    assert (runner_id, test_name) == (1, "cluster:scenario")
    assert ["greeting", "hello"] in config
    req.send(msgpack.packb([3, runner_id]))
    req.recv()
    req.close(linger=0)
    context.term()
    controller.send_signal(signal.SIGTERM)
    out, err = controller.communicate(timeout=20)
    assert controller.returncode == 143, err
    assert err.count("a request that is not mite's") == 1, err
    assert "Traceback" not in err


def test_a_bad_scenario_spec_is_one_line(cluster):
    controller = cluster.controller("cluster:missing")
    out, err = controller.communicate(timeout=30)
    assert controller.returncode == 1
    assert "mite: error: scenario spec 'cluster:missing'" in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("via", ["option", "environment"])
def test_the_logging_webhook_hears_the_start_and_the_end(cluster, via):
    import http.server
    import json
    import threading

    posts = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            posts.append((self.path, body))
            if self.path.endswith("/start"):
                payload = json.dumps({"newid": 42}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            else:
                self.send_response(204)
                self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/hooks"
    args = [
        "controller",
        "cluster:scenario",
        f"--controller-socket={cluster.controller_socket}",
        f"--message-socket={cluster.messages}",
    ]
    env = dict(os.environ)
    if via == "option":
        args.append(f"--logging-webhook={url}")
    else:
        env["MITE_LOGGING_URL"] = url
    controller = subprocess.Popen(
        [sys.executable, "-m", "mite", *args],
        cwd=cluster.dir,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        runner = cluster.runner()
        runner.communicate(timeout=90)
        _out, err = controller.communicate(timeout=30)
    finally:
        server.shutdown()
        thread.join()
    assert controller.returncode == 0, err
    assert posts == [
        ("/hooks/start", {"testname": "cluster:scenario"}),
        ("/hooks/end", {"id": 42}),
    ]


def test_the_logging_webhook_option_belongs_to_the_controller(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mite", "runner", "--logging-webhook=http://127.0.0.1:1/"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "mite: error: --logging-webhook applies to controller only" in result.stderr

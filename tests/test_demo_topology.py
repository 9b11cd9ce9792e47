"""The cluster of the public mite-demo project's run script, as separate processes on real
ZeroMQ sockets: two `mite runner`s, `mite duplicator`, `mite stats
--stats-include-processors=mite,mite_http`, `mite prometheus_exporter` and `mite controller
SCENARIO --config ...`, with a generator scenario of six journeys (one on a recyclable
datapool) against a stub server this test starts. Every request the stub served is on
/metrics, per journey; a Ctrl-C of the controller stops the runners."""

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import free_port

APPLICATION = {
    "application/__init__.py": '''\
class Api:
    """The stub's routes, as the project's page object wraps them."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.base = ctx.config.get("base_url")

    async def get(self, path):
        return await self.ctx.http.get(self.base + path)
''',
    "application/config.py": """\
import os


def config():
    return {"base_url": os.environ["STUB_URL"], "run_seconds": os.environ["RUN_SECONDS"]}
""",
    "application/datapools.py": """\
from mite.datapools import RecyclableIterableDataPool

users = RecyclableIterableDataPool([(f"user-{n}",) for n in range(5)])
""",
    "application/journeys.py": """\
import asyncio

from mite_http import mite_http

from . import Api


async def _paced(ctx, request):
    async with ctx.transaction("Request"):
        await request
    await asyncio.sleep(0.05)


@mite_http
async def get_url1_journey(ctx):
    await _paced(ctx, Api(ctx).get("/url1"))


@mite_http
async def get_url2_journey(ctx):
    await _paced(ctx, Api(ctx).get("/url2"))


@mite_http
async def get_url3_journey(ctx):
    await _paced(ctx, Api(ctx).get("/url3"))


@mite_http
async def post_url5_journey(ctx):
    base = ctx.config.get("base_url")
    await _paced(ctx, ctx.http.post(base + "/url5", json={"n": 5}))


@mite_http
async def get_profile_journey(ctx, user):
    await _paced(ctx, Api(ctx).get(f"/profile/{user}"))


@mite_http
async def get_404_journey(ctx):
    await _paced(ctx, Api(ctx).get("/missing"))
""",
    "application/scenarios.py": """\
from mite.scenario import StopScenario

from .datapools import users

JOURNEYS = [
    (5, "application.journeys:get_url1_journey", None),
    (1, "application.journeys:get_url2_journey", None),
    (1, "application.journeys:get_url3_journey", None),
    (3, "application.journeys:post_url5_journey", None),
    (2, "application.journeys:get_profile_journey", users),
    (1, "application.journeys:get_404_journey", None),
]


def volume_model_factory(n, duration):
    def vm(start, end):
        if start > duration:
            raise StopScenario
        return n

    vm.__name__ = f"volume model {n}"
    return vm


def quick_scenario(config):
    seconds = float(config.get("run_seconds"))
    for peak, journey, datapool in JOURNEYS:
        yield journey, datapool, volume_model_factory(peak, duration=seconds)
""",
}

ROUTES = {
    "get_url1_journey": ("GET", "/url1"),
    "get_url2_journey": ("GET", "/url2"),
    "get_url3_journey": ("GET", "/url3"),
    "post_url5_journey": ("POST", "/url5"),
    "get_profile_journey": ("GET", "/profile"),
    "get_404_journey": ("GET", "/missing"),
}


class Stub:
    """A threaded HTTP server on 127.0.0.1 counting requests per (method, route)."""

    def __init__(self):
        self.counts = Counter()
        lock = threading.Lock()
        counts = self.counts

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                route = "/profile" if self.path.startswith("/profile/") else self.path
                with lock:
                    counts[(self.command, route)] += 1
                status = 404 if route == "/missing" else 200
                body = b"ok"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Cluster:
    """The run script's processes, each on free ports of 127.0.0.1."""

    def __init__(self, path, stub_url, run_seconds):
        self.path = path
        self.env = {
            **__import__("os").environ,
            "STUB_URL": stub_url,
            "RUN_SECONDS": str(run_seconds),
        }
        ports = {
            name: free_port()
            for name in ("controller", "message", "stats_in", "stats_out", "collector_in")
        }
        self.web_port = free_port()
        self.address = {name: f"tcp://127.0.0.1:{port}" for name, port in ports.items()}
        self.processes = {}
        self.logs = {}

    def start(self, name, *args):
        log = open(self.path / f"{name}.log", "w")
        self.logs[name] = self.path / f"{name}.log"
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "mite", *args],
            cwd=self.path,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def start_all(self, scenario):
        """The run script's processes. The script starts them all at once; here the consumers
        come first and get a moment to connect, as a duplicator output with no consumer yet
        drops what it gets (mite's too), and the counts are to match exactly."""
        a = self.address
        self.start(
            "duplicator",
            "duplicator",
            f"--message-socket={a['message']}",
            a["stats_in"],
            a["collector_in"],
        )
        # Not in the run script: a collector, whose files `mite report` reads afterwards.
        self.start("collector", "collector", f"--collector-socket={a['collector_in']}")
        self.start(
            "stats",
            "stats",
            f"--stats-in-socket={a['stats_in']}",
            f"--stats-out-socket={a['stats_out']}",
            "--stats-include-processors=mite,mite_http",
        )
        self.start(
            "exporter",
            "prometheus_exporter",
            f"--stats-out-socket={a['stats_out']}",
            f"--web-address=127.0.0.1:{self.web_port}",
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                self.metrics()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the exporter did not serve /metrics:\n{self.log('exporter')}")
                time.sleep(0.1)
        time.sleep(1.0)  # stats connected to the duplicator (it started before the exporter)
        for n in (1, 2):
            self.start(
                f"runner{n}",
                "runner",
                f"--controller-socket={a['controller']}",
                f"--message-socket={a['message']}",
            )
        self.start(
            "controller",
            "controller",
            f"--controller-socket={a['controller']}",
            f"--message-socket={a['message']}",
            scenario,
            "--config",
            "application.config:config",
        )

    def wait(self, name, timeout):
        try:
            return self.processes[name].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name} did not end within {timeout} s:\n{self.log(name)}")

    def log(self, name):
        return self.logs[name].read_text()

    def metrics(self):
        url = f"http://127.0.0.1:{self.web_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()

    def close(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def http_responses(metrics):
    """{(journey function, method, response code): count} from mite_http_response_total."""
    found = Counter()
    pattern = re.compile(r"^mite_http_response_total\s*\{(.*)\}\s+(\S+)$")
    for line in metrics.splitlines():
        match = pattern.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
            key = (labels["journey"].split(":")[-1], labels["method"], labels["response_code"])
            found[key] += int(float(match.group(2)))
    return found


@pytest.fixture
def demo(tmp_path):
    for name, source in APPLICATION.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
    stub = Stub()
    clusters = []

    def make(run_seconds):
        cluster = Cluster(tmp_path, stub.url, run_seconds)
        clusters.append(cluster)
        return cluster

    yield stub, make
    for cluster in clusters:
        cluster.close()
    stub.close()


def test_the_run_scripts_cluster_serves_every_request_on_metrics_per_journey(demo):
    stub, make = demo
    cluster = make(run_seconds=4)
    cluster.start_all("application.scenarios:quick_scenario")
    assert cluster.wait("controller", 60) == 0, cluster.log("controller")
    for n in (1, 2):
        assert cluster.wait(f"runner{n}", 30) == 0, cluster.log(f"runner{n}")
    served = {journey: stub.counts[(method, route)] for journey, (method, route) in ROUTES.items()}
    assert all(count > 0 for count in served.values()), served
    # The concurrency of each journey shows in its share (5 of url1 against 1 of url2).
    assert served["get_url1_journey"] > 2 * served["get_url2_journey"], served

    expected = Counter()
    for journey, (method, _) in ROUTES.items():
        code = "404" if journey == "get_404_journey" else "200"
        expected[(journey, method, code)] = served[journey]
    deadline = time.monotonic() + 20
    while True:
        seen = http_responses(cluster.metrics())
        if seen == expected or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert seen == expected
    for name in ("controller", "runner1", "runner2", "duplicator", "stats", "exporter"):
        assert "Traceback" not in cluster.log(name), cluster.log(name)

    # The collected messages give the cluster's run summary afterwards.
    cluster.processes["collector"].send_signal(signal.SIGINT)
    assert cluster.wait("collector", 20) == 130, cluster.log("collector")  # stopped by Ctrl-C
    files = [
        str(p)
        for p in (cluster.path / "collector_data").iterdir()
        if p.name != "current_start_time"
    ]
    report = subprocess.run(
        [sys.executable, "-m", "mite", "report", *files, "--summary-json=summary.json", "--quiet"],
        cwd=cluster.path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.returncode == 0, report.stderr
    summary = json.loads((cluster.path / "summary.json").read_text())
    assert summary["requests"]["count"] == sum(served.values())
    assert summary["requests"]["by_status"] == {
        "200": sum(served.values()) - served["get_404_journey"],
        "404": served["get_404_journey"],
    }
    assert summary["test"] == "application.scenarios:quick_scenario"
    assert summary["journeys"]["finished"] > 0
    rows = {
        (row["journey"].split(":")[-1], row["name"]): row["count"]
        for row in summary["transactions"]
    }
    for journey in ROUTES:
        assert rows[(journey, "__root__ :: Request")] == served[journey], journey


def test_a_ctrl_c_of_the_controller_stops_the_runners(demo):
    stub, make = demo
    cluster = make(run_seconds=600)
    cluster.start_all("application.scenarios:quick_scenario")
    deadline = time.monotonic() + 30
    while sum(stub.counts.values()) < 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sum(stub.counts.values()) >= 20, cluster.log("controller")
    cluster.processes["controller"].send_signal(signal.SIGINT)
    assert cluster.wait("controller", 15) == 130
    # Told to stop, the runners finish their journeys and say bye.
    for n in (1, 2):
        assert cluster.wait(f"runner{n}", 15) == 0, cluster.log(f"runner{n}")
    served = sum(stub.counts.values())
    time.sleep(0.5)
    assert sum(stub.counts.values()) == served

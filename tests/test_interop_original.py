"""Wire compatibility with original mite 2.11.0 (from PyPI, in a virtualenv of its own):
mite-rs's message-plane components in one cluster with mite's own controller, runner, stats
and exporter, over real ZeroMQ sockets.

The virtualenv is found through MITE_ORIGINAL_VENV (`.ci/run` makes it). Without it the tests
are skipped, unless MITE_REQUIRE_ORIGINAL is set (as `.ci/run` does), where they fail."""

import signal
import subprocess
import sys
import textwrap
import time

import msgpack
import pytest
from conftest import free_port

JOURNEYS = 20

# Each journey takes 0.1 s, so a run lasts about a second and every runner joins in time
# (mite's controller ends when no scenario is left and no runner has asked for work lately:
# a runner that only said hello by then waits for an answer that never comes).
SCENARIO = """\
import asyncio

from mite.datapools import IterableDataPool
from mite_http import mite_http


@mite_http
async def one_request(ctx, n):
    async with ctx.transaction("Request"):
        await ctx.http.get(ctx.config.get("url"))
    await asyncio.sleep(0.1)


def scenario():
    pool = IterableDataPool([(i,) for i in range({journeys})])
    return [["interop:one_request", pool, lambda start, end: 2]]
"""


@pytest.fixture(scope="module")
def original_mite(original_venv):
    return original_venv / "bin" / "mite"


def tcp():
    return f"tcp://127.0.0.1:{free_port()}"


class Cluster:
    def __init__(self, tmp_path):
        self.dir = tmp_path
        (tmp_path / "interop.py").write_text(SCENARIO.format(journeys=JOURNEYS))
        self.processes = []

    def start(self, name, argv):
        log = open(self.dir / f"{name}.log", "w")
        process = subprocess.Popen(argv, cwd=self.dir, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append((name, process))
        return process

    def ours(self, name, *args):
        return self.start(name, [sys.executable, "-m", "mite", *args])

    def theirs(self, mite, name, *args):
        return self.start(name, [str(mite), *args])

    def log(self, name):
        return (self.dir / f"{name}.log").read_text()

    def stop_all(self):
        for _name, process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _name, process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def cluster(tmp_path):
    cluster = Cluster(tmp_path)
    yield cluster
    cluster.stop_all()


def scrape(address):
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
            return response.read().decode()
    except OSError:
        return ""


def sample(text, starts):
    for line in text.splitlines():
        if line.startswith(starts):
            return float(line.rsplit(" ", 1)[1])
    return None


def wait_for(predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_original_runners_feed_mite_rs_components_and_the_stats_cross_over(
    cluster, original_mite, demo_app
):
    """Original controller and runner -> mite-rs duplicator -> mite-rs collector, mite-rs
    stats -> original exporter, original stats -> mite-rs exporter."""
    messages, to_collector, to_our_stats, to_their_stats = tcp(), tcp(), tcp(), tcp()
    our_stats_out, their_stats_out = tcp(), tcp()
    their_web, our_web = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    cluster.ours(
        "duplicator",
        "duplicator",
        f"--message-socket={messages}",
        to_collector,
        to_our_stats,
        to_their_stats,
    )
    cluster.ours(
        "collector",
        "collector",
        f"--collector-socket={to_collector}",
        f"--collector-dir={cluster.dir / 'collected'}",
    )
    cluster.ours(
        "our-stats",
        "stats",
        f"--stats-in-socket={to_our_stats}",
        f"--stats-out-socket={our_stats_out}",
    )
    cluster.theirs(
        original_mite,
        "their-exporter",
        "prometheus_exporter",
        f"--stats-out-socket={our_stats_out}",
        f"--web-address={their_web}",
    )
    cluster.theirs(
        original_mite,
        "their-stats",
        "stats",
        f"--stats-in-socket={to_their_stats}",
        f"--stats-out-socket={their_stats_out}",
    )
    cluster.ours(
        "our-exporter",
        "prometheus_exporter",
        f"--stats-out-socket={their_stats_out}",
        f"--web-address={our_web}",
    )
    # Every consumer must be connected before the first message: the duplicator drops what
    # an output without a peer cannot take, as mite's does.
    time.sleep(3)
    controller_socket = tcp()
    controller = cluster.theirs(
        original_mite,
        "controller",
        "controller",
        "interop:scenario",
        f"--controller-socket={controller_socket}",
        f"--message-socket={messages}",
        f"--add-to-config=url:{demo_app}/",
    )
    runner = cluster.theirs(
        original_mite,
        "runner",
        "runner",
        f"--controller-socket={controller_socket}",
        f"--message-socket={messages}",
    )
    assert runner.wait(timeout=120) == 0, cluster.log("runner")
    assert controller.wait(timeout=30) == 0, cluster.log("controller")

    root = 'mite_transaction_total {test="interop:scenario",journey="interop:one_request",'
    request = root + 'transaction="__root__ :: Request",had_error="False"}'

    # Our stats' dumps, added up by mite's own exporter.
    assert wait_for(lambda: sample(scrape(their_web), request) == JOURNEYS, 20), scrape(their_web)
    theirs = scrape(their_web)
    http = 'mite_http_response_total {test="interop:scenario",journey="interop:one_request",'
    http += 'transaction="__root__ :: Request",method="b\'GET\'",response_code="200"}'
    assert sample(theirs, http) == JOURNEYS, theirs
    # mite's stats' dumps, added up by ours (labels as proper strings).
    assert wait_for(lambda: sample(scrape(our_web), request) == JOURNEYS, 20), scrape(our_web)
    ours = scrape(our_web)
    assert sample(ours, http.replace("b'GET'", "GET")) == JOURNEYS, ours
    assert sample(ours, 'mite_http_response_time_seconds_count{transaction="__root__ :: Request"}')

    # Everything the runner sent is in our collector's files once it is stopped.
    cluster.stop_all()
    kinds = []
    for path in sorted((cluster.dir / "collected").iterdir()):
        if path.name.endswith("_start_time"):
            continue
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        unpacker.feed(path.read_bytes())
        kinds.extend(message["type"] for message in unpacker)
    assert kinds.count("http_metrics") == JOURNEYS
    assert kinds.count("txn") == 2 * JOURNEYS
    assert kinds.count("controller_report") >= 1
    log = cluster.log("duplicator")
    assert "Traceback" not in log and "buffer full" not in log, log


def test_mite_rs_exporter_reads_the_original_stats_layout_exactly(original_mite, tmp_path):
    """A dump packed by original mite's own `Stats` (tuple keys, bytes labels) is applied by
    `mite prometheus_exporter` as mite's exporter would."""
    script = textwrap.dedent(
        """
        import sys
        from mite.stats import Stats
        from mite.utils import pack_msg
        out = []
        stats = Stats(sender=out.append, include=["mite", "mite_http"])
        for code in (200, 200, 500):
            stats.process({"type": "http_metrics", "test": "t", "journey": "j",
                           "transaction": "T", "method": b"GET", "response_code": code,
                           "total_time": 0.02})
        sys.stdout.buffer.write(pack_msg(stats.dump()))
        """
    )
    python = original_mite.parent / "python"
    dump = subprocess.run([python, "-c", script], capture_output=True, check=True).stdout
    address, web = tcp(), f"127.0.0.1:{free_port()}"
    exporter = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mite",
            "prometheus_exporter",
            f"--stats-out-socket={address}",
            f"--web-address={web}",
        ],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        import zmq

        context = zmq.Context()
        push = context.socket(zmq.PUSH)
        push.connect(address)
        push.send(dump)
        assert wait_for(lambda: 'response_code="500"' in scrape(web), 15), scrape(web)
        text = scrape(web)
        base = 'mite_http_response_total {test="t",journey="j",transaction="T",method="GET",'
        assert sample(text, base + 'response_code="200"}') == 2, text
        assert sample(text, base + 'response_code="500"}') == 1, text
        assert sample(text, 'mite_http_response_time_seconds_count{transaction="T"}') == 3, text
        push.close()
        context.term()
    finally:
        exporter.send_signal(signal.SIGTERM)
        _out, err = exporter.communicate(timeout=15)
    assert exporter.returncode == 143, err
    assert "skipped" not in err, err


def test_mite_rs_runners_work_for_an_original_controller(cluster, original_mite, demo_app):
    """Two mite-rs runners under mite's own controller: every datapool item runs once, the
    runners exit 0 after the controller says stop, and so does the controller."""
    import zmq

    messages, controller_socket = tcp(), tcp()
    context = zmq.Context()
    pull = context.socket(zmq.PULL)
    pull.bind(messages)
    pull.setsockopt(zmq.RCVTIMEO, 2000)
    controller = cluster.theirs(
        original_mite,
        "controller",
        "controller",
        "interop:scenario",
        f"--controller-socket={controller_socket}",
        f"--message-socket={messages}",
        f"--add-to-config=url:{demo_app}/",
    )
    runners = [
        cluster.ours(
            f"runner-{i}",
            "runner",
            f"--controller-socket={controller_socket}",
            f"--message-socket={messages}",
        )
        for i in (1, 2)
    ]
    for i, runner in enumerate(runners, 1):
        assert runner.wait(timeout=120) == 0, cluster.log(f"runner-{i}")
    assert controller.wait(timeout=30) == 0, cluster.log("controller")
    received = []
    while True:
        try:
            received.append(msgpack.unpackb(pull.recv(), raw=False, strict_map_key=False))
        except zmq.Again:
            break
    pull.close()
    context.term()
    http = [m for m in received if m["type"] == "http_metrics"]
    assert len(http) == JOURNEYS
    assert sorted(m["scenario_data_id"] for m in http) == list(range(1, JOURNEYS + 1))
    assert {m["response_code"] for m in http} == {200}
    # The controller shares the volume across both runners.
    assert {m["runner_id"] for m in http} == {1, 2}
    txns = [m for m in received if m["type"] == "txn"]
    assert len(txns) == 2 * JOURNEYS
    assert not [m for m in received if m["type"] in ("exception", "error")]
    for i in (1, 2):
        log = cluster.log(f"runner-{i}")
        assert "Traceback" not in log and "error" not in log.lower(), log


def test_an_original_runner_works_for_a_mite_rs_controller(cluster, original_mite, demo_app):
    """mite's own runner beside a mite-rs runner, both under `mite controller` of mite-rs:
    every item runs once, shared between them, and all three exit 0."""
    import zmq

    messages, controller_socket = tcp(), tcp()
    context = zmq.Context()
    pull = context.socket(zmq.PULL)
    pull.bind(messages)
    pull.setsockopt(zmq.RCVTIMEO, 2000)
    controller = cluster.ours(
        "controller",
        "controller",
        "interop:scenario",
        f"--controller-socket={controller_socket}",
        f"--message-socket={messages}",
        f"--add-to-config=url:{demo_app}/",
    )
    theirs = cluster.theirs(
        original_mite,
        "their-runner",
        "runner",
        f"--controller-socket={controller_socket}",
        f"--message-socket={messages}",
    )
    ours = cluster.ours(
        "our-runner",
        "runner",
        f"--controller-socket={controller_socket}",
        f"--message-socket={messages}",
    )
    assert theirs.wait(timeout=120) == 0, cluster.log("their-runner")
    assert ours.wait(timeout=120) == 0, cluster.log("our-runner")
    assert controller.wait(timeout=30) == 0, cluster.log("controller")
    received = []
    while True:
        try:
            received.append(msgpack.unpackb(pull.recv(), raw=False, strict_map_key=False))
        except zmq.Again:
            break
    pull.close()
    context.term()
    http = [m for m in received if m["type"] == "http_metrics"]
    assert sorted(m["scenario_data_id"] for m in http) == list(range(1, JOURNEYS + 1))
    assert {m["runner_id"] for m in http} == {1, 2}
    assert len([m for m in received if m["type"] == "txn"]) == 2 * JOURNEYS
    reports = [m for m in received if m["type"] == "controller_report"]
    assert reports and {r["test"] for r in reports} == {"interop:scenario"}
    for name in ("controller", "their-runner", "our-runner"):
        assert "Traceback" not in cluster.log(name), cluster.log(name)

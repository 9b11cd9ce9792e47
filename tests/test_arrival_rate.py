"""Arrival-rate volume models (an open model): journeys start on a timetable whatever the
target's speed, up to a cap whose refusals are counted as dropped starts; every message of
such a journey carries its `start_delay`, and the summary, `--report`, the stats and the
HTML report show latency from the intended start beside the service latency."""

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest
from conftest import free_port
from test_prometheus_live import try_scrape, wait_until
from test_prometheus_text import promtool_problems, unexpected_problems

from mite.scenario import StopVolumeModel
from mite.volume_model import (
    ArrivalRate,
    Constant,
    ConstantRate,
    Nothing,
    Ramp,
    RampRate,
)

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "docs" / "summary.schema.json").read_text()
)


def collected(project, kind):
    """The messages of `kind` in the project's collector files (JSON lines), in order."""
    messages = []
    for path in sorted((project.path / "collector_data").iterdir()):
        for line in path.read_text().splitlines():
            message = json.loads(line)
            if isinstance(message, dict) and message.get("type") == kind:
                messages.append(message)
    return sorted(messages, key=lambda m: m["time"])


# The DSL -----------------------------------------------------------------------------------


def test_a_constant_rate_says_its_rate_and_cap_and_stops_at_its_duration():
    model = ConstantRate(duration=3, rate=12.5, max_journeys=40)
    assert model(0, 1) == ArrivalRate(12.5, 40)
    assert model(2, 3) == ArrivalRate(12.5, 40)
    # The inclusive end starts nothing more, so 3 s at 12.5/s is 37.5 starts.
    assert model(3, 4).per_second == 0
    with pytest.raises(StopVolumeModel):
        model(4, 5)


def test_rate_ramps_take_their_ends_from_their_neighbours_like_ramps():
    chain = (
        RampRate(duration=4, frm=0)
        + ConstantRate(duration=2, rate=20, max_journeys=100)
        + RampRate(duration=2, to=0)
    )
    assert chain.duration == 8
    first = chain(0, 1)
    assert (first.per_second, first.until) == (0, 5)
    assert chain(4, 5) == ArrivalRate(20, 100)
    down = chain(7, 8)
    assert (down.per_second, down.until) == (10, 0)
    with pytest.raises(ValueError, match="must specify 'to' on the final RampRate"):
        (ConstantRate(duration=1, rate=1) + RampRate(duration=1))(0, 1)


def test_rate_and_concurrency_models_do_not_chain_but_nothing_goes_with_either():
    with pytest.raises(ValueError, match="Cannot chain an arrival-rate model"):
        Constant(duration=5, tps=2) + ConstantRate(duration=5, rate=2)
    with pytest.raises(ValueError, match="Cannot chain an arrival-rate model"):
        ConstantRate(duration=5, rate=2) + (Nothing(duration=1) + Ramp(duration=2, to=0))
    chain = Nothing(duration=2) + ConstantRate(duration=2, rate=3)
    assert chain(0, 1) == 0
    assert chain(2, 3).per_second == 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"per_second": -1}, "per_second must be a number"),
        ({"per_second": "5"}, "per_second must be a number"),
        ({"per_second": 1, "until": True}, "until must be a number"),
        ({"per_second": 1, "max_journeys": 0}, "max_journeys must be at least 1"),
        ({"per_second": 1, "max_journeys": 2.5}, "max_journeys must be a whole number"),
    ],
)
def test_an_arrival_rate_refuses_nonsense(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ArrivalRate(**kwargs)


# Runs ---------------------------------------------------------------------------------------

PACED = """
import asyncio
import time

from mite.volume_model import ArrivalRate, ConstantRate

BLOCKED = []


async def wait(ctx):
    async with ctx.transaction("wait"):
        await asyncio.sleep(0.5)


async def quick_but_one_blocks(ctx):
    async with ctx.transaction("step"):
        await asyncio.sleep(0.005)
        if not BLOCKED and time.monotonic() - START > 1.0:
            # A blocking call in a journey holds the whole event loop: nothing starts.
            BLOCKED.append(1)
            time.sleep(1.0)


START = time.monotonic()


def rate(start, end):
    # Any volume model may answer with an ArrivalRate.
    if start >= 3:
        raise StopVolumeModel
    return ArrivalRate(20, max_journeys=100)


from mite.scenario import StopVolumeModel


def on_time():
    return [["paced:wait", None, rate]]


def capped():
    return [["paced:wait", None, ConstantRate(duration=3, rate=20, max_journeys=4)]]


def blocked():
    return [["paced:quick_but_one_blocks", None, ConstantRate(duration=3, rate=20)]]
"""


def test_journeys_start_on_schedule_however_long_the_running_ones_take(mite_project):
    mite_project.write("paced.py", PACED)
    result = mite_project.run(
        "scenario", "test", "paced:on_time", "--collector-use-json", "--summary-json=s.json"
    )
    assert result.returncode == 0, result.stderr
    roots = [t for t in collected(mite_project, "txn") if t["transaction"] == "__root__"]
    # 20 a second for 3 s, each running half a second: ten at once, none waiting for another.
    assert len(roots) == 60
    starts = sorted(t["start_time"] for t in roots)
    assert (starts[-1] - starts[0]) / 59 == pytest.approx(0.05, rel=0.1)
    assert all(t["start_delay"] >= 0 for t in roots)
    summary = json.loads((mite_project.path / "s.json").read_text())
    jsonschema.validate(summary, SCHEMA)
    assert summary["arrivals"] == {
        "scheduled": 60,
        "dropped": 0,
        "dropped_ratio": 0.0,
        "by_scenario": {"1": {"scheduled": 60, "dropped": 0}},
    }
    assert "starts      60 scheduled by arrival rate, 0 dropped (0.00%)" in result.stdout


def test_starts_beyond_max_journeys_are_dropped_counted_and_warned_about_once(mite_project):
    mite_project.write("paced.py", PACED)
    result = mite_project.run(
        "scenario", "test", "paced:capped", "--collector-use-json", "--summary-json=s.json"
    )
    assert result.returncode == 0, result.stderr
    roots = [t for t in collected(mite_project, "txn") if t["transaction"] == "__root__"]
    reports = collected(mite_project, "controller_report")
    assert max(max(r["actual"].values(), default=0) for r in reports) <= 4
    last = reports[-1]
    assert last["starts_scheduled"] == {"1": 60}
    # Four at a time, each half a second: about 8 a second of the 20 asked for.
    dropped = last["starts_dropped"]["1"]
    assert dropped == 60 - len(roots)
    assert 25 <= dropped <= 45, dropped
    summary = json.loads((mite_project.path / "s.json").read_text())
    assert (summary["arrivals"]["scheduled"], summary["arrivals"]["dropped"]) == (60, dropped)
    warnings = [line for line in result.stderr_lines if "scheduled starts so far" in line]
    assert len(warnings) == 1, warnings
    assert "Scenario 1 (paced:wait) dropped" in warnings[0]
    assert f"{dropped} dropped" in result.stdout


def test_a_blocked_generator_shows_in_the_latency_from_the_intended_start(mite_project):
    mite_project.write("paced.py", PACED)
    result = mite_project.run(
        "scenario",
        "test",
        "paced:blocked",
        "--collector-use-json",
        "--summary-json=s.json",
        "--html-report=r.html",
    )
    assert result.returncode == 0, result.stderr
    steps = [t for t in collected(mite_project, "txn") if t["transaction"] == "__root__ :: step"]
    late = [t for t in steps if t["start_delay"] > 0.3]
    # Starts due while the loop was blocked for a second began late; they were not dropped.
    assert len(late) >= 10, [round(t["start_delay"], 3) for t in steps]
    summary = json.loads((mite_project.path / "s.json").read_text())
    assert summary["arrivals"]["dropped"] == 0
    (row,) = [t for t in summary["transactions"] if t["name"] == "__root__ :: step"]
    service, intended = row["latency_ms"], row["latency_from_intended_start_ms"]
    assert service["p50"] < 100
    assert intended["p90"] > 300 and intended["p90"] > 5 * service["p90"]
    assert "from intended start" in result.stdout
    page = (mite_project.path / "r.html").read_text()
    index = summary["transactions"].index(row)
    cell = re.search(
        rf'data-json="transactions\.{index}\.latency_from_intended_start_ms\.p90" '
        r'data-value="([^"]+)"',
        page,
    )
    assert cell and float(cell.group(1)) == intended["p90"]
    assert 'data-json="arrivals.scheduled"' in page


# A target that stalls: open and closed models side by side ----------------------------------


class StallingTarget:
    """An HTTP server on 127.0.0.1 that answers at once, except that from 2 s after its first
    request until 4 s after it, it holds every request until the stall is over."""

    def __init__(self):
        self.first = None
        self.received = []
        lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as two writes: without this, Nagle and delayed ACKs
            # add 40 ms to each keep-alive request.
            disable_nagle_algorithm = True

            def do_GET(self):
                now = time.time()
                with lock:
                    if target.first is None:
                        target.first = now
                    target.received.append(now)
                stall_end = target.first + 4.0
                if target.first + 2.0 <= now < stall_end:
                    time.sleep(stall_end - now)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received_in_stall(self):
        return sum(1 for t in self.received if self.first + 2.1 <= t < self.first + 3.9)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


TARGET = """
import os

from mite_http import mite_http
from mite.volume_model import Constant, ConstantRate


@mite_http
async def get(ctx):
    await ctx.http.get(os.environ["TARGET_URL"])


def open_model():
    return [["target:get", None, ConstantRate(duration=6, rate=40, max_journeys=400)]]


def closed_model():
    return [["target:get", None, Constant(duration=6, tps=4)]]
"""


def run_against_stall(project, scenario):
    target = StallingTarget()
    try:
        result = project.run(
            "scenario",
            "test",
            f"target:{scenario}",
            f"--summary-json={scenario}.json",
            "--report",
            env={"TARGET_URL": target.url},
        )
    finally:
        target.close()
    assert result.returncode == 0, result.stderr
    summary = json.loads((project.path / f"{scenario}.json").read_text())
    jsonschema.validate(summary, SCHEMA)
    return result, summary, target


def test_a_stall_of_the_target_shows_in_an_open_models_percentiles_but_hides_in_a_closed(
    mite_project,
):
    mite_project.write("target.py", TARGET)
    open_result, open_run, open_target = run_against_stall(mite_project, "open_model")
    closed_result, closed_run, closed_target = run_against_stall(mite_project, "closed_model")

    # Open: the starts went on during the stall, so a third of the requests waited in it.
    assert open_target.received_in_stall() >= 50
    assert open_run["arrivals"]["dropped"] == 0
    intended = open_run["requests"]["latency_from_intended_start_ms"]
    assert intended["p90"] >= 1000, intended
    assert intended["p90"] >= open_run["requests"]["latency_ms"]["p90"]
    assert "From intended start" in open_result.stdout

    # Closed: four requests waited out the stall and nothing else was sent; the percentiles
    # of the many quick requests hide it. Only the lost throughput tells.
    assert closed_target.received_in_stall() <= 4
    assert closed_run["requests"]["count"] > 5 * open_run["requests"]["count"]
    assert closed_run["requests"]["latency_ms"]["p99"] < 200
    assert closed_run["requests"]["latency_ms"]["max"] >= 1500
    assert closed_run["requests"]["latency_from_intended_start_ms"] is None
    assert closed_run["arrivals"] is None
    assert "From intended start" not in closed_result.stdout


# Stats, the plan, distributed mode ----------------------------------------------------------


def test_the_stats_export_the_intended_start_histogram_and_start_counts(mite_project, demo_app):
    mite_project.write(
        "open.py",
        """
        from mite_http import mite_http
        from mite.volume_model import ConstantRate


        @mite_http
        async def get(ctx):
            await ctx.http.get(ctx.config.get("url"))


        def scenario():
            return [["open:get", None, ConstantRate(duration=4, rate=30)]]
        """,
    )
    port = free_port()
    run = mite_project.start(
        "scenario",
        "test",
        "open:scenario",
        f"--prometheus-address={port}",
        env={"MITE_CONF_url": demo_app + "/"},
    )
    try:

        def exported():
            scraped = try_scrape(port)
            text = scraped and scraped[2]
            wanted = "mite_http_response_time_from_intended_start_seconds_count"
            return text and wanted in text and "mite_starts_scheduled {" in text and text

        text = wait_until(exported, 8, "the arrival-rate stats in /metrics")
    finally:
        result = mite_project.finish(run)
    assert result.returncode == 0, result.stderr
    assert unexpected_problems(promtool_problems(text)) == []
    assert re.search(r'mite_starts_scheduled \{test="open:scenario",scenario_id="1"\} \d+', text)
    assert 'mite_starts_dropped {test="open:scenario",scenario_id="1"} 0' in text


def test_a_closed_run_exports_exactly_mites_stats(mite_project):
    mite_project.write(
        "idle.py",
        """
        import asyncio

        from mite.volume_model import Constant


        async def journey(ctx):
            await asyncio.sleep(0.05)


        def scenario():
            return [["idle:journey", None, Constant(duration=3, tps=2)]]
        """,
    )
    port = free_port()
    run = mite_project.start("scenario", "test", "idle:scenario", f"--prometheus-address={port}")
    try:
        text = wait_until(
            lambda: (s := try_scrape(port)) and "mite_transaction_total {" in s[2] and s[2],
            8,
            "metrics",
        )
    finally:
        result = mite_project.finish(run)
    assert result.returncode == 0, result.stderr
    assert "# TYPE mite_required_count gauge" in text
    assert "from_intended_start" not in text and "mite_starts_" not in text


def test_scenario_check_plans_starts_per_second(mite_project):
    mite_project.write("paced.py", PACED)
    result = mite_project.run("scenario", "check", "paced:capped")
    assert result.returncode == 0, result.stderr
    assert (
        "  arrivals     ends after 4s, about 60 starts, up to 20/s, at most 4 journeys at once"
        in result.stdout
    )
    assert "  starts/s     |███ |" in result.stdout


def test_runner_processes_start_the_schedule_between_them_and_say_how_late(mite_project):
    mite_project.write("paced.py", PACED)
    result = mite_project.run(
        "scenario", "test", "paced:on_time", "--runners=2", "--collector-use-json"
    )
    assert result.returncode == 0, result.stderr
    roots = [t for t in collected(mite_project, "txn") if t["transaction"] == "__root__"]
    assert len(roots) == 60
    assert {t["runner_id"] for t in roots} == {1, 2}
    # The controller says how late each start already was; the runner adds its own delay.
    assert all(0 <= t["start_delay"] < 1 for t in roots)
    last = collected(mite_project, "controller_report")[-1]
    assert last["starts_scheduled"] == {"1": 60} and last["starts_dropped"] == {"1": 0}
    # Said once, whether the last due starts were handed out before or after the model ended.
    assert result.stderr.count("All scenarios have been removed from scenario tracker") == 1

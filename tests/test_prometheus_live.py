"""`--prometheus-address`: a single-process run serves /metrics, scraped by a real Prometheus
whose answers to the queries of mite's Grafana dashboard are checked through its HTTP API."""

import json
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest import free_port, prometheus_tool
from test_prometheus_text import promtool_problems, unexpected_problems

RUN_SECONDS = 14
CONCURRENCY = 4
DELAY_MS = 20
# mite names a transaction by its path from the journey's root.
TXN = "__root__ :: Delayed get"

SCENARIO = """\
import itertools

from mite.scenario import StopVolumeModel
from mite_http import mite_http

calls = itertools.count()


@mite_http
async def journey(ctx):
    async with ctx.transaction("Delayed get"):
        await ctx.http.get("{app}/delay/{delay}")
        if next(calls) % 10 == 9:
            raise ValueError("every tenth journey fails")


def volume(start, end):
    if start >= {seconds}:
        raise StopVolumeModel
    return {concurrency}


def scenario():
    return [["live_journeys:journey", None, volume]]
"""

DASHBOARD_QUERIES = {
    "p95": "histogram_quantile(0.95, sum without(job)"
    "(rate(mite_http_response_time_seconds_bucket[10s])))",
    "transactions": "sum without(instance, job, journey, test)(rate(mite_transaction_total[10s]))",
    "errors": "sum without(instance, job)(rate(mite_journey_error_total[10s]))",
    "responses": "sum without(instance, job, journey, transaction, response_code, method)"
    "(rate(mite_http_response_total[10s]))",
    "actual": "sum without(instance, job, scenario_id, test) (mite_actual_count)",
    "required": "sum without(instance, job, scenario_id, test) (mite_required_count)",
    "runners": "sum(mite_runner_count)",
}


def get(url, timeout=2):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.headers.get("Content-Type"), response.read().decode()


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.25)


def try_scrape(port):
    try:
        return get(f"http://127.0.0.1:{port}/metrics")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


@pytest.fixture
def prometheus(tmp_path):
    """A real Prometheus on 127.0.0.1, scraping `target_port` every second; yields
    (query function, target port)."""
    binary = prometheus_tool("prometheus")
    target_port = free_port()
    web_port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: mite\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n"
    )
    log = open(tmp_path / "prometheus.log", "w")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{web_port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{web_port}"

    def ready():
        try:
            return get(f"{base}/-/ready")[0] == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            assert process.poll() is None, (tmp_path / "prometheus.log").read_text()
            return False

    def query(expr):
        url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        body = json.loads(get(url)[2])
        assert body["status"] == "success", body
        return body["data"]["result"]

    try:
        wait_until(ready, 30, "Prometheus to be ready")
        yield query, target_port
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_a_live_run_answers_the_grafana_dashboards_queries(mite_project, demo_app, prometheus):
    query, port = prometheus
    mite_project.write(
        "live_journeys.py",
        SCENARIO.format(app=demo_app, delay=DELAY_MS, seconds=RUN_SECONDS, concurrency=CONCURRENCY),
    )
    run = mite_project.start(
        "scenario",
        "test",
        "live_journeys:scenario",
        f"--prometheus-address={port}",
        "--max-errors-threshold=1000000",
    )
    try:
        status, content_type, text = wait_until(lambda: try_scrape(port), 10, "/metrics to answer")
        assert status == 200
        assert content_type == "text/plain; charset=utf-8"

        def answered():
            results = {name: query(expr) for name, expr in DASHBOARD_QUERIES.items()}
            return results if all(results.values()) else None

        results = wait_until(answered, RUN_SECONDS - 2, "every dashboard query to return data")
        scraped = try_scrape(port)[2]
    finally:
        result = mite_project.finish(run, timeout=RUN_SECONDS + 30)
    assert result.returncode == 0, result.stderr

    def value(name, **labels):
        for sample in results[name]:
            if all(sample["metric"].get(k) == v for k, v in labels.items()):
                return float(sample["value"][1])
        raise AssertionError(f"{name}: no sample with {labels} in {results[name]}")

    # /delay/20 answers in a little over 20 ms: the p95 lands in the (0.01, 0.05] bucket.
    assert 0.01 < value("p95", transaction=TXN) <= 0.05
    assert value("transactions", transaction=TXN, had_error="False") > 0
    assert value("transactions", transaction=TXN, had_error="True") > 0
    assert value("errors", ex_type="ValueError", transaction=TXN) > 0
    assert value("responses", test="live_journeys:scenario") > 0
    assert value("actual") == CONCURRENCY
    assert value("required") == CONCURRENCY
    assert value("runners") == 1

    # What Prometheus scraped is what promtool accepts.
    assert 'method="GET",response_code="200"' in scraped
    assert not unexpected_problems(promtool_problems(scraped))
    assert "Serving Prometheus metrics on http://127.0.0.1:" in result.stderr


THIRD_PARTY = """\
from mite.stats import Accumulator, extractor, matcher_by_type

STATS = [
    Accumulator(
        name="shop_basket_value_total",
        matcher=matcher_by_type("basket"),
        extractor=extractor(["journey"], "value"),
    )
]
"""

BASKET_SCENARIO = """\
import asyncio

from mite.scenario import StopVolumeModel


async def journey(ctx):
    await ctx.send("basket", value=3)
    await asyncio.sleep(0.05)


def volume(start, end):
    if start >= 4:
        raise StopVolumeModel
    return 1


def scenario():
    return [["basket_journeys:journey", None, volume]]
"""


def test_stats_of_an_installed_package_run_in_python_beside_the_native_ones(mite_project):
    packages = mite_project.path / "site"
    (packages / "shop_stats-1.0.dist-info").mkdir(parents=True)
    (packages / "shop_stats.py").write_text(THIRD_PARTY)
    (packages / "shop_stats-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: shop-stats\nVersion: 1.0\n"
    )
    (packages / "shop_stats-1.0.dist-info" / "entry_points.txt").write_text(
        "[mite_stats]\nshop = shop_stats:STATS\n"
    )
    mite_project.write("basket_journeys.py", BASKET_SCENARIO)
    port = free_port()
    run = mite_project.start(
        "scenario",
        "test",
        "basket_journeys:scenario",
        f"--prometheus-address=127.0.0.1:{port}",
        env={"PYTHONPATH": str(packages)},
    )
    try:

        def counted():
            scraped = try_scrape(port)
            return scraped and "shop_basket_value_total {" in scraped[2] and scraped[2]

        text = wait_until(counted, 8, "the package's stat in /metrics")
    finally:
        result = mite_project.finish(run)
    assert result.returncode == 0, result.stderr
    assert 'shop_basket_value_total {journey="basket_journeys:journey"} ' in text
    assert "# TYPE mite_transaction_total counter" in text
    assert "Registering stats processors from shop" in result.stderr

    # Excluded by name, the package's stats do not run.
    port = free_port()
    run = mite_project.start(
        "scenario",
        "test",
        "basket_journeys:scenario",
        f"--prometheus-address={port}",
        "--stats-exclude-processors=shop",
        env={"PYTHONPATH": str(packages)},
    )
    try:
        text = wait_until(
            lambda: (s := try_scrape(port)) and "mite_runner_count {" in s[2] and s[2], 8, "metrics"
        )
    finally:
        result = mite_project.finish(run)
    assert "shop_basket_value_total" not in text
    assert "Registering stats processors from shop" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--prometheus-address=nope"], '--prometheus-address: "nope" is not [HOST:]PORT'),
        (["--prometheus-address=70000"], '--prometheus-address: "70000" is not [HOST:]PORT'),
    ],
)
def test_a_bad_address_is_one_line(mite_project, args, message):
    mite_project.write("noop.py", "async def journey(ctx):\n    pass\n")
    result = mite_project.run("journey", "run", "noop:journey", *args)
    assert result.returncode == 1
    assert result.error_lines == [f"mite: error: {message}"]
    assert "Traceback" not in result.stderr


def test_a_busy_port_is_one_line_before_anything_runs(mite_project):
    mite_project.write(
        "noop.py", "from observe import observe\n\nasync def journey(ctx):\n    observe(ran=True)\n"
    )
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = mite_project.run("journey", "run", "noop:journey", f"--prometheus-address={port}")
    assert result.returncode == 1
    assert result.error_lines == [
        f"mite: error: --prometheus-address: cannot listen on {port}: Address already in use"
    ]
    assert mite_project.observed() == []


def test_the_option_is_refused_where_nothing_runs(mite_project):
    result = mite_project.run("uncat", "--prometheus-address=9301")
    assert result.returncode == 1
    assert result.error_lines == [
        "mite: error: --prometheus-address applies to scenario test and journey test|run only"
    ]


def test_without_the_option_no_server_starts(mite_project):
    mite_project.write("noop.py", "async def journey(ctx):\n    pass\n")
    result = mite_project.run("journey", "run", "noop:journey")
    assert result.returncode == 0, result.stderr
    assert "Serving Prometheus metrics" not in result.stderr

"""The end of a run for people and CI: the summary printed by default (`--quiet` turns it off),
`--summary-json` (checked against docs/summary.schema.json, written also when interrupted),
`--html-report` (opened in headless Chromium), the live status line on a terminal, and
`mite report FILE...` from collector files.

One scenario run against the demo app is shared: 40 journeys, each with two requests in two
transactions; every fourth journey raises, and logging in answers 401 (unknown user).
"""

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import msgpack
import pytest
from browser import Browser

SCHEMA = json.loads((Path(__file__).parent.parent / "docs" / "summary.schema.json").read_text())

SHOP = """
import os

from mite.datapools import IterableDataPool
from mite.volume_model import Constant
from mite_http import mite_http
from observe import observe

BASE = os.environ["DEMO_URL"]
numbers = IterableDataPool([(n,) for n in range(40)])


@mite_http
async def shop(ctx, n):
    async with ctx.transaction("List users"):
        await ctx.http.get(f"{BASE}/users")
    async with ctx.transaction("Log in"):
        await ctx.http.post(f"{BASE}/login", json={"username": f"u{n}", "password": "x"})
    observe(journey=n)
    if n % 4 == 0:
        raise ValueError("every fourth journey fails")


def scenario():
    return [("shop:shop", numbers, Constant(duration=3, tps=5))]


async def slow(ctx):
    async with ctx.transaction("Wait"):
        await ctx.http.get(f"{BASE}/delay/50")
    observe(journey=1)


def long_scenario():
    return [("shop:slow_journey", None, Constant(duration=600, tps=4))]


slow_journey = mite_http(slow)
"""


PACED = """
import asyncio
from mite.volume_model import Constant

async def journey(ctx):
    async with ctx.transaction("T"):
        await asyncio.sleep(0.05)

def scenario():
    return [("tiny:journey", None, Constant(duration={seconds}, tps=2))]
"""


def write_paced_scenario(project, seconds):
    """`tiny:scenario`: two journeys at a time for `seconds`, each a 50 ms transaction."""
    project.write("tiny.py", PACED.format(seconds=seconds))


def validate(document):
    jsonschema.validate(document, SCHEMA)
    return document


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory, mite_project_factory):
    """The shared run: its project, result, and JSON summary."""
    project = mite_project_factory(tmp_path_factory.mktemp("shop"))
    project.write("shop.py", SHOP)
    demo = subprocess.Popen(
        [sys.executable, "-m", "mite", "demo-app", "--port", "0", "--threads", "1"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+", demo.stderr.readline()).group(0)
        result = project.run(
            "scenario",
            "test",
            "shop:scenario",
            "--max-errors-threshold=3",
            "--collector-roll=25",
            "--summary-json=summary.json",
            "--html-report=report.html",
            env={"DEMO_URL": url},
        )
    finally:
        demo.terminate()
        demo.wait(timeout=10)
    summary = json.loads((project.path / "summary.json").read_text())
    return project, result, summary, url


def test_a_run_ends_with_a_summary_of_journeys_requests_errors_and_transactions(shop_run):
    project, result, _, _ = shop_run
    out = result.stdout
    assert "mite-rs run summary" in out
    assert "journeys    40 started, 40 finished, 10 failed (25.00%)" in out
    assert re.search(
        r"^requests    80 \([\d.,]+/s\)  p50 \S+  p90 \S+  p95 \S+  p99 \S+  max \S+$", out, re.M
    )
    assert "statuses    200: 40, 401: 40" in out
    assert "errors      10 (1 kind)" in out
    assert re.search(r"^ +10  ValueError: .*every fourth journey fails$", out, re.M)
    rows = {line.split("  ")[0]: line for line in out.splitlines() if line.startswith("__root__")}
    assert set(rows) == {"__root__", "__root__ :: List users", "__root__ :: Log in"}
    assert re.match(r"__root__ +40 +25\.00%", rows["__root__"])
    assert re.match(r"__root__ :: Log in +40 +0\.00%", rows["__root__ :: Log in"])
    # The verdict comes last, with the exit code it implies.
    tail = out.rstrip().splitlines()[-3:]
    assert tail == [
        "thresholds",
        "  FAILED  --max-errors-threshold 3: Error count exceeded: 10",
        "exit code 1: a threshold failed",
    ]
    assert result.returncode == 1
    assert "Error count exceeded: 10" in result.stderr  # mite's ERROR line stays


def test_the_json_summary_follows_its_schema_and_counts_what_the_journeys_did(shop_run):
    project, result, summary, _ = shop_run
    validate(summary)
    assert len(project.observed()) == 40
    assert summary["outcome"] == "completed" and summary["interrupted"] is False
    assert summary["exit_code"] == 1
    assert summary["test"] == "shop:scenario"
    assert summary["command"][-7:-5] == ["scenario", "test"]
    assert summary["journeys"] == {"started": 40, "finished": 40, "failed": 10, "running_at_end": 0}
    assert summary["requests"]["count"] == 80
    assert summary["requests"]["by_status"] == {"200": 40, "401": 40}
    latency = summary["requests"]["latency_ms"]
    assert (
        0 < latency["p50"] <= latency["p90"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    )
    assert summary["errors"]["count"] == 10
    (top,) = summary["errors"]["top"]
    assert top["type"] == "ValueError" and "every fourth journey fails" in top["message"]
    names = [(t["name"], t["count"], t["errors"]) for t in summary["transactions"]]
    assert sorted(names) == [
        ("__root__", 40, 10),
        ("__root__ :: List users", 40, 0),
        ("__root__ :: Log in", 40, 0),
    ]
    assert summary["thresholds"] == {
        "passed": False,
        "checks": [
            {
                "option": "--max-errors-threshold",
                "limit": "3",
                "passed": False,
                "failure": "Error count exceeded: 10",
            }
        ],
    }


def test_the_schema_refuses_what_the_summary_must_not_be():
    """The schema test above can fail: a document missing a field, or of another version, is
    refused."""
    with pytest.raises(jsonschema.ValidationError):
        validate({"version": 1})
    with pytest.raises(jsonschema.ValidationError):
        validate({"version": 2, "tool": "mite-rs"})


def test_quiet_turns_the_summary_off(mite_project):
    mite_project.write("tiny.py", "async def journey(ctx):\n    pass\n")
    loud = mite_project.run("journey", "run", "tiny:journey")
    quiet = mite_project.run("journey", "run", "tiny:journey", "--quiet")
    assert loud.returncode == quiet.returncode == 0, loud.stderr + quiet.stderr
    assert "mite-rs run summary" in loud.stdout
    assert "exit code 0: the run passed" in loud.stdout
    assert quiet.stdout == ""
    # Quiet still writes the files asked for.
    written = mite_project.run("journey", "run", "tiny:journey", "--quiet", "--summary-json=s.json")
    assert written.returncode == 0 and written.stdout == ""
    summary = validate(json.loads((mite_project.path / "s.json").read_text()))
    assert summary["journeys"]["finished"] == 1


def test_mites_report_tables_are_printed_as_before_and_the_summary_after_them(mite_project):
    mite_project.write(
        "tiny.py",
        """
        async def journey(ctx):
            pass
        """,
    )
    result = mite_project.run("journey", "run", "tiny:journey", "--report")
    assert result.returncode == 0, result.stderr
    report_at = result.stdout.index("MITE Benchmark Report")
    assert result.stdout.index("mite-rs run summary") > report_at


@pytest.mark.parametrize(
    "sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["sigint", "sigterm"]
)
def test_an_interrupted_run_still_writes_its_summary_marked_interrupted(
    mite_project, demo_app, sig, code
):
    mite_project.write("shop.py", SHOP)
    process = mite_project.start(
        "scenario",
        "test",
        "shop:long_scenario",
        "--summary-json=summary.json",
        "--html-report=report.html",
        "--grace-period=5",
        env={"DEMO_URL": demo_app},
    )
    deadline = time.monotonic() + 30
    while len(mite_project.observed()) < 8:
        assert time.monotonic() < deadline, "the journeys did not run"
        time.sleep(0.05)
    process.send_signal(sig)
    result = mite_project.finish(process)
    assert result.returncode == code, result.stderr
    summary = validate(json.loads((mite_project.path / "summary.json").read_text()))
    assert summary["outcome"] == "interrupted" and summary["interrupted"] is True
    assert summary["exit_code"] == code
    assert summary["thresholds"] is None
    # Every journey that ran is counted, including those the signal let finish.
    assert summary["journeys"]["finished"] == len(mite_project.observed())
    assert summary["requests"]["count"] == summary["journeys"]["finished"]
    assert "(interrupted)" in result.stdout
    assert (mite_project.path / "report.html").stat().st_size > 0
    assert not list(mite_project.path.glob("*.partial"))


def by_path(document, path):
    for part in path.split("."):
        document = document[int(part)] if isinstance(document, list) else document[part]
    return document


def test_the_html_report_opens_offline_in_chromium_with_charts_and_the_jsons_numbers(shop_run):
    project, _, summary, _ = shop_run
    page = project.path / "report.html"
    with Browser() as browser:
        browser.open(page, "document.body.dataset.chartsReady === 'true'")
        assert browser.console_errors() == []
        # Self-contained: the page asked for nothing but itself.
        assert browser.requested_urls() == [page.as_uri()]
        charts = browser.evaluate(
            "Array.from(document.querySelectorAll('svg.plot')).map(s =>"
            " [s.getAttribute('aria-label'), Number(s.dataset.points),"
            " s.querySelectorAll('path.line').length])"
        )
        titles = [title for title, _, _ in charts]
        assert titles[:4] == [
            "Requests per second",
            "Request latency",
            "Errors per second",
            "Active journeys",
        ]
        assert titles[4:] == [
            "Transactions per second",
            "Transaction duration",
            "Failed transactions per second",
        ]
        for title, points, lines in charts:
            assert points > 0 and lines > 0, title
        # The active-journeys chart shows the volume model's target beside what ran.
        assert charts[3][2] == 2
        # What the page shows is what the JSON summary says.
        cells = browser.evaluate(
            "Array.from(document.querySelectorAll('[data-json]')).map(e => "
            "[e.dataset.json, e.dataset.value, e.textContent])"
        )
        assert len(cells) > 20
        for path, value, _ in cells:
            assert json.loads(value) == by_path(summary, path), path
        shown = {path: text for path, _, text in cells}
        assert shown["requests.count"] == "80"
        assert shown["journeys.failed"] == "10"
        assert shown["errors.count"] == "10"
        # Another transaction can be picked for the per-transaction charts.
        picked = browser.evaluate(
            "(() => { const p = document.getElementById('transaction-picker');"
            " p.value = String(p.options.length - 1); p.dispatchEvent(new Event('change'));"
            " const shown = document.querySelectorAll('#charts-transaction svg.plot');"
            " return [p.options.length, shown.length]; })()"
        )
        assert picked == [3, 3]
        assert browser.console_errors() == []


def test_report_rebuilds_the_same_summary_from_the_collector_files(shop_run, tmp_path):
    project, _, live, _ = shop_run
    files = sorted(
        str(p)
        for p in (project.path / "collector_data").iterdir()
        if p.name != "current_start_time"
    )
    assert len(files) > 5, "the run should have rolled its collector files"
    # Newest first: the order of the files does not matter.
    result = project.run(
        "report",
        *reversed(files),
        f"--summary-json={tmp_path / 'again.json'}",
        f"--html-report={tmp_path / 'again.html'}",
    )
    assert result.returncode == 0, result.stderr
    assert "mite-rs run summary" in result.stdout
    again = validate(json.loads((tmp_path / "again.json").read_text()))
    assert (
        again["outcome"] == "from files"
        and again["exit_code"] is None
        and again["thresholds"] is None
    )
    for key in (
        "test",
        "journeys",
        "requests",
        "errors",
        "transactions",
        "messages",
        "started_at",
        "ended_at",
    ):
        assert again[key] == live[key], key
    html = (tmp_path / "again.html").read_text()
    assert 'id="mite-series"' in html and "from files" in html


def test_report_reads_json_lines_collector_files(mite_project, tmp_path):
    write_paced_scenario(mite_project, seconds=1)
    run = mite_project.run(
        "scenario", "test", "tiny:scenario", "--collector-use-json", "--summary-json=live.json"
    )
    assert run.returncode == 0, run.stderr
    current = mite_project.path / "collector_data" / "current"
    assert current.read_text().startswith("{")
    result = mite_project.run("report", str(current), "--summary-json=again.json", "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    live = json.loads((mite_project.path / "live.json").read_text())
    again = json.loads((mite_project.path / "again.json").read_text())
    assert again["journeys"] == live["journeys"] and again["journeys"]["finished"] > 0
    assert again["transactions"] == live["transactions"]


def test_report_names_bad_input_in_one_line(mite_project):
    good = msgpack.packb(
        {"type": "txn", "time": 5.0, "transaction": "__root__", "start_time": 4.0, "end_time": 5.0}
    )
    (mite_project.path / "cut").write_bytes(good + good[:-3])
    (mite_project.path / "garbage").write_bytes(good + b"\xc1\xc1")
    (mite_project.path / "bad.json").write_text('{"type": "txn"}\n{oops\n')
    cut = mite_project.run("report", "cut", "--quiet", "--summary-json=s.json")
    assert cut.returncode == 0, cut.stderr
    assert "ends inside a record; using the 1 whole records before it" in cut.stderr
    assert json.loads((mite_project.path / "s.json").read_text())["journeys"]["finished"] == 1
    for args, text in [
        (["garbage"], "garbage: damaged at byte"),
        (["bad.json"], "bad.json: line 2 is not JSON"),
        (["missing"], "missing: No such file or directory"),
        (["cut", "--summary-json=no/such/dir/s.json"], "--summary-json no/such/dir/s.json:"),
    ]:
        result = mite_project.run("report", *args, "--quiet")
        assert result.returncode == 1, args
        assert len(result.error_lines) == 1 and text in result.error_lines[0], result.stderr
        assert "Traceback" not in result.stderr and "panicked" not in result.stderr


def test_report_needs_files_and_refuses_run_options(mite_project):
    assert mite_project.run("report").returncode == 1
    result = mite_project.run("report", "f", "--volume=3")
    assert result.returncode == 1
    assert "--volume" in result.stderr


def test_a_day_of_collected_messages_makes_a_report_of_a_few_megabytes_in_flat_memory(tmp_path):
    """Downsampling: a 24-hour run's plots keep at most 1200 points per series, and the report's
    memory does not grow with the run's length."""

    def collected(path, hours):
        with open(path, "wb") as out:
            for second in range(0, hours * 3600, 2):
                t = 1_700_000_000.0 + second
                for name in ("__root__ :: A", "__root__ :: B", "__root__"):
                    out.write(
                        msgpack.packb(
                            {
                                "type": "txn",
                                "time": t,
                                "journey": "m:j",
                                "transaction": name,
                                "start_time": t - 0.2,
                                "end_time": t,
                                "had_error": second % 97 == 0,
                            }
                        )
                    )
                out.write(
                    msgpack.packb(
                        {
                            "type": "http_metrics",
                            "time": t,
                            "total_time": 0.01 + (second % 50) / 1000,
                            "response_code": 200,
                            "transaction": "__root__ :: A",
                        }
                    )
                )
                out.write(
                    msgpack.packb(
                        {
                            "type": "controller_report",
                            "time": t,
                            "test": "m:s",
                            "required": {1: 10},
                            "actual": {1: 9},
                            "num_runners": 1,
                        }
                    )
                )

    def max_rss_kib(path, html):
        script = (
            "import resource, subprocess, sys;"
            "subprocess.run([sys.executable, '-m', 'mite', 'report',"
            f" {str(path)!r}, '--quiet', '--html-report', {str(html)!r}], check=True);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        return int(
            subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, check=True
            ).stdout
        )

    collected(tmp_path / "hour", 1)
    collected(tmp_path / "day", 24)
    hour_rss = max_rss_kib(tmp_path / "hour", tmp_path / "hour.html")
    day_rss = max_rss_kib(tmp_path / "day", tmp_path / "day.html")
    assert day_rss < hour_rss + 20 * 1024, (hour_rss, day_rss)
    size = (tmp_path / "day.html").stat().st_size
    assert size < 4 * 1024 * 1024, size
    html = (tmp_path / "day.html").read_text()
    series = json.loads(html.split('id="mite-series">', 1)[1].split("</script>", 1)[0])
    assert series["width_s"] == 128 and 600 < len(series["t"]) <= 1200
    assert len(series["transactions"]) == 3


def read_terminal(fd, process, timeout):
    output = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    return output.decode(errors="replace")


@pytest.mark.parametrize("runners", ["1", "2"])
def test_a_terminal_gets_a_status_line_updated_in_place(mite_project, runners):
    # The journeys log (from the runner processes with --runners 2) while the status shows.
    mite_project.write(
        "tiny.py",
        PACED.format(seconds=3)
        + """
import logging, time
_started = time.monotonic()
_paced_journey = journey

async def journey(ctx):
    if time.monotonic() - _started > 1.5:
        logging.getLogger("shop").warning("a journey says hello")
    await _paced_journey(ctx)
""",
    )
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*mite_project.command(), "scenario", "test", "tiny:scenario", f"--runners={runners}"],
        cwd=mite_project.path,
        env=mite_project.env(),
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    try:
        output = read_terminal(controller, process, timeout=30)
        process.wait(timeout=30)
    finally:
        os.close(controller)
    assert process.returncode == 0, output
    status = re.findall(r"\r\x1b\[2K(▶ [^\r\n\x1b]*)", output)
    assert len(status) >= 2, output
    assert re.fullmatch(
        r"▶ \d:\d\d of 0:03 \(\d:\d\d left\) · \d+ journeys · \d+ req/s · 0 errors", status[0]
    ), status
    # Log lines never run into it: each row the terminal ends up showing is one or the other.
    rows = [row.split("\r\x1b[2K")[-1] for row in output.replace("\r\n", "\n").split("\n")]
    assert any("a journey says hello" in row for row in rows)
    for row in rows:
        assert "▶" not in row or not re.search(r"<(INFO|WARNING|ERROR)>", row), row
    assert "mite-rs run summary" in output


def test_a_pipe_gets_plain_lines_and_no_status_line(shop_run):
    _, result, _, _ = shop_run
    assert "\x1b[" not in result.stdout + result.stderr
    assert "▶" not in result.stdout


def test_the_collectors_roll_lines_are_debug_only(shop_run, mite_project):
    _, result, _, _ = shop_run
    assert "moving old current" not in result.stderr
    mite_project.write("tiny.py", "async def journey(ctx):\n    pass\n")
    debug = mite_project.run(
        "journey", "run", "tiny:journey", "--collector-roll=1", "--log-level=DEBUG"
    )
    assert "moving old current" in debug.stderr

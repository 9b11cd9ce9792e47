"""The load generator watching itself: loop lag, CPU and late starts sampled once a second
into `runner_health` messages; a run of seconds over a limit warns once and the summary, JSON
and HTML report say the generator was the limit; a blocking call in a journey is caught while
it holds the event loop and named."""

import json
import re
from pathlib import Path

import jsonschema
from test_arrival_rate import PACED, collected

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "docs" / "summary.schema.json").read_text()
)

BUSY = """
import asyncio

from mite.volume_model import Constant


async def crunch(ctx):
    # Pure Python work between awaits: each step holds the event loop for tens of ms.
    async with ctx.transaction("crunch"):
        sum(i * i for i in range(400_000))
        await asyncio.sleep(0)


async def idle(ctx):
    await asyncio.sleep(0.2)


def busy():
    return [["busy:crunch", None, Constant(duration=6, tps=4)]]


def calm():
    return [["busy:idle", None, Constant(duration=4, tps=2)]]
"""


def test_a_blocking_call_in_a_journey_is_named_live_and_in_the_summary(mite_project):
    mite_project.write("paced.py", PACED)
    result = mite_project.run(
        "scenario", "test", "paced:blocked", "--summary-json=s.json", "--html-report=r.html"
    )
    assert result.returncode == 0, result.stderr
    line = next(n for n, text in enumerate(PACED.splitlines(), 1) if "time.sleep(1.0)" in text)
    warnings = [w for w in result.stderr_lines if "A blocking call held the event loop" in w]
    assert len(warnings) == 1, result.stderr
    assert f"at paced.py:{line} in quick_but_one_blocks: time.sleep(1.0)" in warnings[0]
    summary = json.loads((mite_project.path / "s.json").read_text())
    jsonschema.validate(summary, SCHEMA)
    (call,) = summary["generator"]["blocking_calls"]
    assert call["file"].endswith("paced.py") and call["line"] == line
    assert call["code"] == "time.sleep(1.0)" and call["count"] == 1
    assert 0.8 <= call["max_seconds"] <= 1.5
    assert summary["generator"]["late_starts"] >= 10
    assert "blocked the loop" in result.stdout and f"paced.py:{line}" in result.stdout
    page = (mite_project.path / "r.html").read_text()
    assert "time.sleep(1.0)" in page and 'data-json="generator.blocking_calls.0.count"' in page


def test_a_generator_that_cannot_keep_up_says_so_once_with_its_figures(mite_project):
    mite_project.write("busy.py", BUSY)
    result = mite_project.run(
        "scenario", "test", "busy:busy", "--summary-json=s.json", "--html-report=r.html"
    )
    assert result.returncode == 0, result.stderr
    warnings = [w for w in result.stderr_lines if "was the limit for" in w]
    assert len(warnings) == 1, result.stderr
    assert "The load generator, not the target, was the limit for 3 s (loop lag" in warnings[0]
    assert re.search(r"loop lag p90 \d+ms", warnings[0]), warnings[0]
    summary = json.loads((mite_project.path / "s.json").read_text())
    jsonschema.validate(summary, SCHEMA)
    generator = summary["generator"]
    assert generator["limited"] is True
    assert generator["longest_limited_s"] >= 3
    assert generator["loop_lag_ms"]["p90_max"] > 10
    assert "generator   LIMITED for" in result.stdout
    page = (mite_project.path / "r.html").read_text()
    assert re.search(r'data-json="generator\.limited" data-value="true">the limit<', page)


def test_a_generator_that_keeps_up_reports_its_figures_every_second_and_no_warning(mite_project):
    mite_project.write("busy.py", BUSY)
    result = mite_project.run(
        "scenario",
        "test",
        "busy:calm",
        "--runners=2",
        "--collector-use-json",
        "--summary-json=s.json",
    )
    assert result.returncode == 0, result.stderr
    assert "was the limit" not in result.stderr
    assert "blocking call" not in result.stderr
    health = collected(mite_project, "runner_health")
    # One a second from each runner process, the last partial second included.
    for runner in (1, 2):
        mine = [h for h in health if h["runner_id"] == runner]
        assert 3 <= len(mine) <= 6, [h["time"] for h in mine]
    sample = health[-1]
    assert {
        "loop_lag_p90",
        "loop_lag_max",
        "cpu_percent",
        "cores",
        "late_starts",
        "limited",
    } <= set(sample)
    assert sample["cores"] >= 1 and 0 <= sample["cpu_percent"] <= 100
    summary = json.loads((mite_project.path / "s.json").read_text())
    assert summary["generator"]["limited"] is False
    assert summary["generator"]["blocking_calls"] == []
    assert "generator   ok: loop lag p90 up to" in result.stdout

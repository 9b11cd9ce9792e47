"""Prometheus text: mite.web.prometheus's layout (spec §4.7), the native stats giving the same
text as mite.stats + mite.web.prometheus for the same messages, and promtool reading it."""

import subprocess
import textwrap

import pytest
from conftest import prometheus_tool

from mite._mite import NativeStats
from mite.stats import Stats
from mite.web.prometheus import Counter, Gauge, Histogram, PrometheusMetrics


def counter_dump(metrics, labels=("a", "b")):
    return {"type": "Counter", "name": "c", "metrics": metrics, "labels": labels}


class TestLayout:
    def test_counter_lines_have_a_space_before_the_labels(self):
        stat = Counter("c", counter_dump({("x", "y"): 2}))
        assert stat.format() == '# TYPE c counter\nc {a="x",b="y"} 2'

    def test_counter_updates_add_and_gauge_updates_replace(self):
        counter = Counter("c", counter_dump({("x", "y"): 2}))
        counter.update(counter_dump({("x", "y"): 3}))
        assert counter.format().endswith("} 5")
        gauge = Gauge("g", counter_dump({("x", "y"): 2}))
        gauge.update(counter_dump({("x", "y"): 7}))
        assert gauge.format() == '# TYPE g gauge\ng {a="x",b="y"} 7'

    def test_histogram_lists_keys_sorted_with_six_place_bounds(self):
        dump = {
            "labels": ("t",),
            "bins": [0.5, 2],
            "bin_counts": {("b",): [1, 2], ("a",): [0, 1]},
            "sums": {("b",): 1.25, ("a",): 1},
            "total_counts": {("b",): 2, ("a",): 1},
        }
        assert Histogram("h", dump).format() == textwrap.dedent(
            """\
            # TYPE h histogram
            h_bucket{t="a",le="0.500000"} 0
            h_bucket{t="a",le="2.000000"} 1
            h_bucket{t="a",le="+Inf"} 1
            h_sum{t="a"} 1.000000
            h_count{t="a"} 1
            h_bucket{t="b",le="0.500000"} 1
            h_bucket{t="b",le="2.000000"} 2
            h_bucket{t="b",le="+Inf"} 2
            h_sum{t="b"} 1.250000
            h_count{t="b"} 2"""
        )

    def test_a_sum_without_bucket_counts_renders_zero_buckets(self):
        dump = {
            "labels": ("t",),
            "bins": [1],
            "bin_counts": {},
            "sums": {("a",): 3},
            "total_counts": {("a",): 1},
        }
        assert 'h_bucket{t="a",le="1.000000"} 0' in Histogram("h", dump).format()

    def test_label_values_are_decoded_and_escaped_and_numbers_parseable(self):
        stat = Counter(
            "c",
            counter_dump({(b"GET", 'say "hi"\\\nbye'): float("inf"), (True, None): float("nan")}),
        )
        assert stat.format().splitlines()[1:] == [
            'c {a="GET",b="say \\"hi\\"\\\\\\nbye"} +Inf',
            'c {a="True",b="None"} NaN',
        ]

    def test_blocks_in_first_seen_order_joined_by_a_blank_line(self):
        metrics = PrometheusMetrics()
        metrics.process(
            [counter_dump({("x", "y"): 1}), {**counter_dump({}), "type": "Gauge", "name": "g"}]
        )
        metrics.process([counter_dump({("x", "y"): 1})])
        assert metrics.format() == '# TYPE c counter\nc {a="x",b="y"} 2\n\n# TYPE g gauge'


def run_messages():
    """What a short run sends: every type the built-in stats count."""
    envelope = {"test": "shop:main", "runner_id": 1, "journey": "shop:buy", "context_id": 3}
    messages = []
    for i, (code, seconds) in enumerate([(200, 0.004), (200, 0.03), (503, 0.7), (200, 3.0)]):
        transaction = "Browse" if i % 2 else "Checkout"
        messages.append(
            {
                "type": "http_metrics",
                **envelope,
                "transaction": transaction,
                "transaction_id": i,
                "method": b"POST" if code == 503 else b"GET",
                "response_code": code,
                "total_time": seconds,
                "effective_url": "http://127.0.0.1/x",
            }
        )
        messages.append(
            {"type": "txn", **envelope, "transaction": transaction, "had_error": code != 200}
        )
    messages.append(
        {
            "type": "exception",
            **envelope,
            "transaction": "Checkout",
            "ex_type": "ValueError",
            "message": 'bad "quote"\nsecond line',
            "location": "/srv/shop.py:12:buy",
            "stacktrace": "...",
        }
    )
    messages.append(
        {
            "type": "controller_report",
            "test": "shop:main",
            "required": {1: 4, 2: 1},
            "actual": {1: 3, 2: 1},
            "num_runners": 1,
        }
    )
    return messages


def python_text(messages):
    stats = Stats(sender=None, include=["mite", "mite_http"])
    stats.dump_timeout = float("inf")
    for msg in messages:
        stats.process(msg)
    exporter = PrometheusMetrics()
    exporter.process(stats.dump())
    return exporter.format() + "\n"


def native_text(messages):
    native = NativeStats()
    for msg in messages:
        native.process_message(msg)
    return native.prometheus_text()


def test_native_stats_give_the_text_of_mites_python_pipeline():
    messages = run_messages()
    text = native_text(messages)
    assert text == python_text(messages)
    assert 'method="POST",response_code="503"} 1\n' in text
    assert 'message="bad \\"quote\\"\\nsecond line"' in text
    assert 'mite_required_count {test="shop:main",scenario_id="2"} 1\n' in text


def test_native_deltas_add_up_across_dumps():
    native = NativeStats()
    messages = run_messages()
    for msg in messages:
        native.process_message(msg)
    native.prometheus_text()
    for msg in messages:
        native.process_message(msg)
    text = native.prometheus_text()
    assert 'mite_http_response_time_seconds_count{transaction="Checkout"} 4\n' in text
    # Gauges are overwritten, not added.
    assert 'mite_actual_count {test="shop:main",scenario_id="1"} 3\n' in text


def test_python_stat_dumps_join_the_native_exporter():
    native = NativeStats()
    native.add_dumps([counter_dump({("x", "y"): 2})])
    native.add_dumps([counter_dump({("x", "y"): 1.5})])
    assert native.prometheus_text().startswith('# TYPE c counter\nc {a="x",b="y"} 3.5\n')
    with pytest.raises(ValueError, match="malformed stats dump"):
        native.add_dumps([{"type": "Counter"}])


PROMTOOL_COUNT_SUFFIX = 'non-histogram and non-summary metrics should not have "_count" suffix'
# mite's own gauge names, which its Grafana dashboard queries, end in `_count`.
MITE_COUNT_GAUGES = {"mite_actual_count", "mite_required_count", "mite_runner_count"}


def promtool_check(text):
    result = subprocess.run(
        [prometheus_tool("promtool"), "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result


def promtool_problems(text):
    """`promtool check metrics` on the text: its lines, each `<metric> <problem>`."""
    result = promtool_check(text)
    output = (result.stdout + result.stderr).splitlines()
    assert result.returncode in (0, 3), output  # 3: lint problems found, text parsed
    return [line for line in output if line.strip()]


def unexpected_problems(lines):
    """promtool's findings other than missing HELP text and mite's own `_count` gauge names."""
    left = []
    for line in lines:
        metric, _, problem = line.partition(" ")
        if problem == "no help text":
            continue
        if problem == PROMTOOL_COUNT_SUFFIX and metric in MITE_COUNT_GAUGES:
            continue
        left.append(line)
    return left


def test_promtool_parses_the_native_text():
    lines = promtool_problems(native_text(run_messages()))
    assert not unexpected_problems(lines)
    assert "mite_http_response_time_seconds no help text" in lines


def test_promtool_rejects_mites_unescaped_newlines_which_we_escape():
    # The check above would pass vacuously if promtool read nothing: show it does complain.
    result = promtool_check('# TYPE x counter\nx {a="one\ntwo"} 1\n')
    assert "error while linting" in result.stdout + result.stderr

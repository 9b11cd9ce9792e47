"""mite.stats and mite_http.stats: the stats processors' Python API (spec §1.12)."""

import importlib
import importlib.metadata
import logging
import sys
import textwrap

import pytest

import mite_http.stats as http_stats
from mite.stats import (
    Accumulator,
    Counter,
    Extractor,
    Gauge,
    Histogram,
    Stat,
    Stats,
    controller_report_extractor,
    extractor,
    matcher_by_type,
)

TXN = {
    "type": "txn",
    "test": "proj.scenarios:main",
    "journey": "proj.journeys:buy",
    "transaction": "Checkout",
    "had_error": False,
    "start_time": 10.0,
    "end_time": 10.5,
}


def always(_msg):
    return True


def fixed(key, value, labels=("label",)):
    return Extractor(labels=labels, extract=lambda _msg: [(key, value)])


class TestExtractors:
    def test_extractor_reads_the_label_fields_in_order_and_counts_one(self):
        ex = extractor(["journey", "had_error", "transaction"])
        assert list(ex.extract(TXN)) == [(("proj.journeys:buy", False, "Checkout"), 1)]
        assert ex.labels == ["journey", "had_error", "transaction"]
        assert ex.extract.labels == ex.labels

    def test_absent_label_fields_are_empty_strings(self):
        ex = extractor(("test", "nowhere"))
        assert list(ex.extract(TXN)) == [(("proj.scenarios:main", ""), 1)]
        assert ex.labels == ("test", "nowhere")

    def test_value_key_gives_the_number_and_a_missing_one_raises(self):
        ex = extractor(["transaction"], "end_time")
        assert list(ex.extract(TXN)) == [(("Checkout",), 10.5)]
        with pytest.raises(KeyError):
            list(extractor(["transaction"], "total_time").extract(TXN))

    def test_controller_report_extractor_yields_one_pair_per_scenario(self):
        report = {"type": "controller_report", "test": "T", "actual": {1: 4, 2: 0}}
        ex = controller_report_extractor("actual")
        assert ex.labels == ("test", "scenario_id")
        assert list(ex.extract(report)) == [(("T", 1), 4), (("T", 2), 0)]

    def test_matcher_by_type(self):
        matcher = matcher_by_type("error", "exception")
        assert matcher({"type": "exception"})
        assert not matcher({"type": "txn"})
        assert not matcher({})


class TestCounters:
    def test_counter_counts_matches_and_ignores_the_value(self):
        counter = Counter("hits", matcher_by_type("txn"), fixed("k", 7))
        for msg in (TXN, TXN, {"type": "other"}):
            counter.process(msg)
        assert dict(counter.metrics) == {"k": 2}

    def test_accumulator_adds_values(self):
        acc = Accumulator("bytes", always, fixed("k", 2.5))
        acc.process(None)
        acc.process(None)
        assert dict(acc.metrics) == {"k": 5.0}

    def test_dump_is_a_delta_and_starts_over(self):
        counter = Counter("hits", always, fixed("k", 1, labels=["a"]))
        counter.process(None)
        assert counter.dump() == {
            "type": "Counter",
            "name": "hits",
            "metrics": {"k": 1},
            "labels": ["a"],
        }
        assert counter.dump()["metrics"] == {}
        counter.process(None)
        assert counter.dump()["metrics"] == {"k": 1}

    def test_accumulator_dumps_as_a_counter(self):
        acc = Accumulator("bytes", always, fixed("k", 3))
        acc.process(None)
        assert acc.dump()["type"] == "Counter"

    def test_stats_are_stat_dataclasses_built_positionally(self):
        counter = Counter("n", always, fixed("k", 1))
        assert isinstance(counter, Stat)
        assert (counter.name, counter.matcher) == ("n", always)


class TestGauge:
    def test_gauge_keeps_the_last_value(self):
        values = iter([3, 8])
        gauge = Gauge("g", always, Extractor(("l",), lambda _m: [("k", next(values))]))
        gauge.process(None)
        gauge.process(None)
        assert gauge.dump() == {"type": "Gauge", "name": "g", "metrics": {"k": 8}, "labels": ("l",)}
        assert dict(gauge.metrics) == {}


class TestHistogram:
    def test_buckets_are_cumulative_over_sorted_bins(self):
        values = iter([0.5, 2.0, 2.5, 100])
        hist = Histogram(
            "h", always, Extractor(("l",), lambda _m: [("k", next(values))]), [3, 1, 2]
        )
        assert hist.bins == [1, 2, 3]
        for _ in range(4):
            hist.process(None)
        assert dict(hist.bin_counts) == {"k": [1, 2, 3]}
        assert dict(hist.total_counts) == {"k": 4}
        assert dict(hist.sums) == {"k": 105.0}

    def test_dump_holds_counts_sums_totals_and_bins_then_clears(self):
        hist = Histogram("h", always, fixed("k", 1), (1, 2))
        hist.process(None)
        assert hist.dump() == {
            "type": "Histogram",
            "name": "h",
            "bin_counts": {"k": [1, 1]},
            "sums": {"k": 1},
            "total_counts": {"k": 1},
            "bins": [1, 2],
            "labels": ("label",),
        }
        assert (dict(hist.bin_counts), dict(hist.sums), dict(hist.total_counts)) == ({}, {}, {})


class TestHttpStats:
    def test_default_buckets(self, monkeypatch):
        monkeypatch.delenv("MITE_HTTP_HISTOGRAM_BUCKETS", raising=False)
        counter, hist = http_stats._generate_stats()
        assert counter.name == "mite_http_response_total"
        assert counter.extractor.labels == [
            "test",
            "journey",
            "transaction",
            "method",
            "response_code",
        ]
        assert hist.name == "mite_http_response_time_seconds"
        assert hist.bins == [0.0001, 0.001, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 2, 4, 8, 16, 32, 64]

    def test_buckets_from_the_environment_are_reread(self, monkeypatch):
        monkeypatch.setenv("MITE_HTTP_HISTOGRAM_BUCKETS", "2,0.5")
        assert http_stats._generate_stats()[1].bins == [0.5, 2.0]

    def test_dns_stats_exist_but_are_not_registered(self):
        (dns,) = http_stats.DNS_STATS
        assert (dns.name, dns.extractor.labels) == ("mite_dns_time", ["transaction"])
        names = {ep.name for ep in importlib.metadata.entry_points(group="mite_stats")}
        assert "mite_dns" not in names

    def test_response_stats_count_http_metrics(self):
        counter, hist = http_stats._generate_stats()
        msg = {
            "type": "http_metrics",
            "test": "T",
            "journey": "j",
            "transaction": "t",
            "method": "GET",
            "response_code": 200,
            "total_time": 0.03,
        }
        counter.process(msg)
        hist.process(msg)
        assert dict(counter.metrics) == {("T", "j", "t", "GET", 200): 1}
        assert hist.dump()["bin_counts"] == {("t",): [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]}


def test_mite_and_mite_http_are_registered_entry_points():
    points = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="mite_stats")}
    assert points["mite"] == "mite.stats:_MITE_STATS"
    assert points["mite_http"] == "mite_http.stats:STATS"
    names = [
        stat.name for stat in importlib.metadata.entry_points(group="mite_stats")["mite"].load()
    ]
    assert names == [
        "mite_journey_error_total",
        "mite_transaction_total",
        "mite_actual_count",
        "mite_required_count",
        "mite_runner_count",
    ]


@pytest.fixture
def third_party_stats(tmp_path, monkeypatch):
    """An installed package (a dist-info on sys.path) registering stats under `mite_stats`."""
    (tmp_path / "shop_stats.py").write_text(
        textwrap.dedent(
            """
            from mite.stats import Accumulator, extractor, matcher_by_type

            STATS = [
                Accumulator(
                    name="shop_basket_value_total",
                    matcher=matcher_by_type("basket"),
                    extractor=extractor(["journey"], "value"),
                )
            ]
            """
        )
    )
    dist = tmp_path / "shop_stats-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shop-stats\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[mite_stats]\nshop = shop_stats:STATS\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    sys.modules.pop("shop_stats", None)


class TestStatsLoading:
    def test_entry_points_installed_after_import_are_loaded(self, third_party_stats, caplog):
        with caplog.at_level(logging.INFO):
            stats = Stats(sender=None)
        names = [stat.name for stat in stats._all_stats]
        assert "shop_basket_value_total" in names
        assert "mite_transaction_total" in names
        assert "Registering stats processors from shop" in caplog.messages

    def test_include_and_exclude_select_by_entry_point_name(self, third_party_stats):
        only = Stats(sender=None, include=["shop"])
        assert [s.name for s in only._all_stats] == ["shop_basket_value_total"]
        without = Stats(sender=None, exclude=["shop", "mite_http"])
        assert [s.name for s in without._all_stats][0] == "mite_journey_error_total"
        assert "shop_basket_value_total" not in [s.name for s in without._all_stats]
        assert "mite_http_response_total" not in [s.name for s in without._all_stats]

    def test_dumps_are_sent_at_most_every_quarter_second_when_messages_arrive(self, monkeypatch):
        sent = []
        clock = [1000.0]
        monkeypatch.setattr("time.time", lambda: clock[0])
        stats = Stats(sender=sent.append, include=["mite"])
        stats.process(TXN)
        assert sent == []
        clock[0] += 0.3
        stats.process(TXN)
        assert len(sent) == 1
        dumps = {d["name"]: d for d in sent[0]}
        assert list(dumps) == [
            "mite_journey_error_total",
            "mite_transaction_total",
            "mite_actual_count",
            "mite_required_count",
            "mite_runner_count",
        ]
        key = ("proj.scenarios:main", "proj.journeys:buy", "Checkout", False)
        assert dumps["mite_transaction_total"]["metrics"] == {key: 2}
        clock[0] += 0.1
        stats.process(TXN)
        assert len(sent) == 1


def test_run_stats_leave_mites_own_to_the_core_and_run_the_others(third_party_stats):
    from mite.stats import _RunStats

    dumps = []
    run = _RunStats(dumps.append)
    assert set(run.native) == {"mite", "mite_http"}
    assert run.has_python_stats
    run.process_message({"type": "basket", "journey": "j", "value": 4})
    run.process_message({"type": "basket", "journey": "j"})  # no value: not counted, logged
    run.process_message({"type": "basket", "journey": "j", "value": 1})
    run.flush()
    assert dumps == [
        [
            {
                "type": "Counter",
                "name": "shop_basket_value_total",
                "metrics": {("j",): 5},
                "labels": ["journey"],
            }
        ]
    ]
    assert not _RunStats(dumps.append, exclude=["shop"]).has_python_stats

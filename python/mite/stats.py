"""Stats processors: turn messages into counters, gauges and histograms for Prometheus.

A stat has a name, a ``matcher`` (does this message count?) and an ``extractor`` (which label
values and which number it contributes). ``dump()`` hands over what accumulated since the last
dump and starts again from zero, so every dump is a delta; the Prometheus exporter adds them up.

Packages contribute stats through the ``mite_stats`` entry-point group; ``Stats`` loads them
when it is built. In ``mite scenario test --prometheus-address`` and ``mite stats`` the stats of
``mite`` and ``mite_http`` run natively in the Rust core; the Python classes here run the stats
of other packages, and code that builds its own pipeline.
"""

import importlib.metadata
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from numbers import Number
from typing import Any

__all__ = [
    "Accumulator",
    "Counter",
    "Extractor",
    "Gauge",
    "Histogram",
    "Stat",
    "Stats",
    "controller_report_extractor",
    "extractor",
    "matcher_by_type",
]

logger = logging.getLogger(__name__)

# The entry-point group through which packages register their stats.
ENTRY_POINT_GROUP = "mite_stats"
# Seconds between dumps; a dump is only sent when a message arrives.
DUMP_INTERVAL = 0.25


@dataclass
class Extractor:
    """Label names, and a function giving a message's ``(label values, number)`` pairs."""

    labels: Sequence[str]
    extract: Callable[[Any], Iterable[tuple[Any, Number]]]


@dataclass
class Stat:
    name: str
    matcher: Callable[[Any], bool]
    extractor: Extractor


def _counts():
    return defaultdict(int)


@dataclass
class _Tally(Stat):
    """A map from label values to a number, dumped as a ``Counter`` delta."""

    metrics: defaultdict[Any, int] = field(default_factory=_counts, init=False)

    def process(self, msg):
        raise NotImplementedError

    def dump(self):
        delta = dict(self.metrics)
        self.metrics.clear()
        return {
            "type": "Counter",
            "name": self.name,
            "metrics": delta,
            "labels": self.extractor.labels,
        }


@dataclass
class Counter(_Tally):
    """Counts the matching messages per label values (the extracted number is ignored)."""

    def process(self, msg):
        if not self.matcher(msg):
            return
        for key, _value in self.extractor.extract(msg):
            self.metrics[key] += 1


@dataclass
class Accumulator(_Tally):
    """Adds up the extracted numbers per label values."""

    def process(self, msg):
        if not self.matcher(msg):
            return
        for key, value in self.extractor.extract(msg):
            self.metrics[key] += value


def _levels():
    return defaultdict(float)


@dataclass
class Gauge(Stat):
    """The last extracted number per label values."""

    metrics: defaultdict[Any, float] = field(default_factory=_levels, init=False)

    def process(self, msg):
        if not self.matcher(msg):
            return
        for key, value in self.extractor.extract(msg):
            self.metrics[key] = value

    def dump(self):
        delta = dict(self.metrics)
        self.metrics.clear()
        return {
            "type": "Gauge",
            "name": self.name,
            "metrics": delta,
            "labels": self.extractor.labels,
        }


@dataclass
class Histogram(Stat):
    """Cumulative buckets (Prometheus style), sum and count per label values."""

    bins: Sequence[float]

    def __post_init__(self):
        self.bins = sorted(self.bins)
        width = len(self.bins)
        self.bin_counts = defaultdict(lambda: [0] * width)
        self.total_counts = defaultdict(int)
        self.sums = defaultdict(int)

    def process(self, msg):
        if not self.matcher(msg):
            return
        for key, value in self.extractor.extract(msg):
            self.sums[key] += value
            self.total_counts[key] += 1
            counts = self.bin_counts[key]
            # Every bucket whose upper bound holds the value: buckets are cumulative.
            for index, bound in enumerate(self.bins):
                if value <= bound:
                    counts[index] += 1

    def dump(self):
        delta = {
            "type": "Histogram",
            "name": self.name,
            "bin_counts": dict(self.bin_counts),
            "sums": dict(self.sums),
            "total_counts": dict(self.total_counts),
            "bins": self.bins,
            "labels": self.extractor.labels,
        }
        self.bin_counts.clear()
        self.sums.clear()
        self.total_counts.clear()
        return delta


def matcher_by_type(*targets):
    """A matcher for messages whose ``type`` is one of ``targets``."""

    def type_matcher(msg):
        logger.debug(f"message to match by type: {msg}")
        return msg.get("type", None) in targets

    return type_matcher


def extractor(labels, value_key=None):
    """One ``(label values, number)`` pair per message: the values of the ``labels`` keys
    (``""`` when absent) and ``msg[value_key]``, or 1 without a ``value_key``."""

    def extract_items(msg):
        key = tuple(msg.get(label, "") for label in labels)
        yield key, (1 if value_key is None else msg[value_key])

    extract_items.labels = labels
    return Extractor(labels=labels, extract=extract_items)


def controller_report_extractor(dict_key):
    """One pair per scenario of a ``controller_report``'s ``dict_key`` map."""

    def extract_items(msg):
        test = msg.get("test", "")
        for scenario_id, value in msg[dict_key].items():
            yield (test, scenario_id), value

    return Extractor(labels=("test", "scenario_id"), extract=extract_items)


_MITE_STATS = [
    Counter(
        name="mite_journey_error_total",
        matcher=matcher_by_type("error", "exception"),
        extractor=extractor(["test", "journey", "transaction", "location", "ex_type", "message"]),
    ),
    Counter(
        name="mite_transaction_total",
        matcher=matcher_by_type("txn"),
        extractor=extractor(["test", "journey", "transaction", "had_error"]),
    ),
    Gauge(
        name="mite_actual_count",
        matcher=matcher_by_type("controller_report"),
        extractor=controller_report_extractor("actual"),
    ),
    Gauge(
        name="mite_required_count",
        matcher=matcher_by_type("controller_report"),
        extractor=controller_report_extractor("required"),
    ),
    Gauge(
        name="mite_runner_count",
        matcher=matcher_by_type("controller_report"),
        extractor=extractor(["test"], "num_runners"),
    ),
]


def _selected(name, include, exclude):
    if include is not None and name not in include:
        return False
    return exclude is None or name not in exclude


def _entry_points(include, exclude):
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if _selected(entry_point.name, include, exclude):
            yield entry_point


# The entry points whose stats the Rust core runs itself in a run: those registered by mite-rs.
_NATIVE_ENTRY_POINTS = {
    "mite": "mite.stats:_MITE_STATS",
    "mite_http": "mite_http.stats:STATS",
}


class Stats:
    """Every stat of the installed ``mite_stats`` entry points (or those ``include`` names,
    minus those ``exclude`` names), fed each message; ``sender`` gets a list of dumps at most
    every quarter second, when a message arrives."""

    def __init__(self, sender, include=None, exclude=None):
        self._all_stats = []
        # Looked up at call time, so a package installed after import still counts.
        for entry_point in _entry_points(include, exclude):
            logging.info(f"Registering stats processors from {entry_point.name}")
            self._all_stats += entry_point.load()
        self.sender = sender
        self.dump_timeout = time.time() + DUMP_INTERVAL

    def process(self, msg):
        for stat in self._all_stats:
            stat.process(msg)
        now = time.time()
        if now > self.dump_timeout:
            self.sender(self.dump())
            self.dump_timeout = now + DUMP_INTERVAL

    def dump(self):
        return [stat.dump() for stat in self._all_stats]


class _RunStats:
    """The stats of a single-process run with ``--prometheus-address``: ``native`` names the
    selected entry points the Rust core counts itself; the others' stats are run here, fed
    from ``ctx.send``, their dumps going to ``sender``. A message a stat raises on is not
    counted by it, and the first such failure of each stat is logged (mite's ``stats``
    process dies instead)."""

    def __init__(self, sender, include=None, exclude=None):
        self.native = []
        self._stats = []
        for entry_point in _entry_points(include, exclude):
            if _NATIVE_ENTRY_POINTS.get(entry_point.name) == entry_point.value:
                self.native.append(entry_point.name)
                continue
            logging.info(f"Registering stats processors from {entry_point.name}")
            try:
                self._stats += entry_point.load()
            except Exception as e:
                raise RuntimeError(
                    f"stats processors {entry_point.name!r} ({entry_point.value}) failed to load: "
                    f"{type(e).__name__}: {e}"
                ) from None
        self._sender = sender
        self._dump_timeout = time.time() + DUMP_INTERVAL
        self._failed = set()

    @property
    def has_python_stats(self):
        return bool(self._stats)

    def process_message(self, msg):
        for stat in self._stats:
            try:
                stat.process(msg)
            except Exception as e:
                if id(stat) not in self._failed:
                    self._failed.add(id(stat))
                    logger.error(
                        f"stat {getattr(stat, 'name', stat)!r} failed on a {msg.get('type')!r} "
                        f"message, which it does not count (further failures are not logged): "
                        f"{type(e).__name__}: {e}"
                    )
        now = time.time()
        if now > self._dump_timeout:
            self.flush()
            self._dump_timeout = now + DUMP_INTERVAL

    def flush(self):
        if self._stats:
            self._sender([stat.dump() for stat in self._stats])

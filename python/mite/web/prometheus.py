"""mite's Prometheus exporter state: stat dumps (deltas, see ``mite.stats``) added up per stat
name, and rendered in Prometheus's text format.

The layout is mite's: one block per stat in the order first seen, blocks joined by a blank
line, no HELP lines, no trailing newline, a space between a counter or gauge sample's name and
its labels. Two fixes keep the text parseable: bytes label values are decoded (``method="GET"``,
not ``method="b'GET'"``) and newlines in label values escaped; infinities, NaN and booleans
render as Prometheus reads them (``+Inf``, ``NaN``, ``1``).
"""

import logging
import math
import threading
from collections import defaultdict

__all__ = ["Counter", "Gauge", "Histogram", "PrometheusMetrics", "format_dict"]

logger = logging.getLogger(__name__)


def _label_text(value):
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("utf-8", "replace")
    else:
        text = str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_dict(labels):
    """``k="v"`` pairs in the dict's order, values escaped for Prometheus."""
    return ",".join(f'{name}="{_label_text(value)}"' for name, value in labels.items())


def _special(number):
    if isinstance(number, bool):
        return "1" if number else "0"
    if isinstance(number, float) and not math.isfinite(number):
        if math.isnan(number):
            return "NaN"
        return "+Inf" if number > 0 else "-Inf"
    return None


def _sample_text(number):
    special = _special(number)
    return str(number) if special is None else special


def _fixed_text(number):
    special = _special(number)
    return f"{number:.6f}" if special is None else special


class PrometheusStat:
    """A counter or gauge: a number per label-value tuple."""

    def __init__(self, name, message):
        self._lock = threading.Lock()
        self.name = name
        self.labels = message["labels"]
        self.metrics = defaultdict(float, message["metrics"])

    def format(self):
        lines = [f"# TYPE {self.name} {type(self).__name__.lower()}"]
        with self._lock:
            for key, value in self.metrics.items():
                labels = format_dict(dict(zip(self.labels, key, strict=False)))
                lines.append(f"{self.name} {{{labels}}} {_sample_text(value)}")
        return "\n".join(lines)


class Counter(PrometheusStat):
    def update(self, message):
        with self._lock:
            for key, delta in message["metrics"].items():
                self.metrics[key] += delta


class Gauge(PrometheusStat):
    def update(self, message):
        with self._lock:
            for key, value in message["metrics"].items():
                self.metrics[key] = value


class Histogram:
    """Bucket counts, sums and totals per label-value tuple."""

    def __init__(self, name, message):
        self._lock = threading.Lock()
        self.name = name
        self.labels = message["labels"]
        self.bins = message["bins"]
        width = len(self.bins)
        self.bin_counts = defaultdict(
            lambda: [0] * width,
            {key: list(counts) for key, counts in message["bin_counts"].items()},
        )
        self.sums = defaultdict(float, message["sums"])
        self.total_counts = defaultdict(int, message["total_counts"])

    def update(self, message):
        with self._lock:
            for key, count in message["total_counts"].items():
                self.total_counts[key] += count
            for key, total in message["sums"].items():
                self.sums[key] += total
            for key, counts in message["bin_counts"].items():
                mine = self.bin_counts[key]
                for index, count in enumerate(counts):
                    mine[index] += count

    def format(self):
        name = self.name
        lines = [f"# TYPE {name} histogram"]
        with self._lock:
            for key in sorted(self.sums):
                labels = format_dict(dict(zip(self.labels, key, strict=False)))
                total = self.total_counts[key]
                for bound, count in zip(self.bins, self.bin_counts[key], strict=False):
                    lines.append(f'{name}_bucket{{{labels},le="{_fixed_text(bound)}"}} {count}')
                lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {total}')
                lines.append(f"{name}_sum{{{labels}}} {_fixed_text(self.sums[key])}")
                lines.append(f"{name}_count{{{labels}}} {total}")
        return "\n".join(lines)


STAT_TYPES = {"Counter": Counter, "Gauge": Gauge, "Histogram": Histogram}


class PrometheusMetrics:
    """Every stat seen in the dumps, by name; a stat's kind is fixed by its first dump."""

    def __init__(self):
        self.stats = {}

    def process(self, msg):
        logger.debug(f"message to iterate in prometheus metrics: {msg}")
        for dump in msg:
            name = dump["name"]
            stat = self.stats.get(name)
            if stat is None:
                self.stats[name] = STAT_TYPES[dump["type"]](name, dump)
            else:
                stat.update(dump)

    def format(self):
        return "\n\n".join(stat.format() for stat in self.stats.values())

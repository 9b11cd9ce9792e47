"""mite's console message processors, as Python classes that can be subclassed.

Naming ``mite.logoutput:HttpStatsOutput``, ``mite.logoutput:MsgOutput`` or
``mite.logoutput:DebugMessageOutput`` in ``--message-processors`` still runs mite-rs's
native processors (no Python per message). These classes are what a subclass builds on
(``class MyStats(HttpStatsOutput)``, a new ``message_types``, an extra check in
``process_message``), and what a processor of a type mite-rs has no native form of
(``FinagleStatsOutput``) runs. They print the same lines as the native ones.
"""

import logging
import math
import statistics
import time
from collections import defaultdict

__all__ = [
    "DebugMessageOutput",
    "FinagleStatsOutput",
    "GenericStatsOutput",
    "HttpStatsOutput",
    "MsgOutput",
]


def _fields(msg):
    """`[type] time key=value, ...`: a message as the MSG logger prints it (pops type and
    time from `msg`)."""
    head = f"[{msg.pop('type', None)}] {msg.pop('time', None):.6f}"
    return head + " " + ", ".join(f"{key}={value}" for key, value in sorted(msg.items()))


class MsgOutput:
    """Journey errors as warnings with their stack trace; other messages at DEBUG."""

    def __init__(self, opts):
        self._logger = logging.getLogger("MSG")

    def process_message(self, msg):
        stacktrace = msg.pop("stacktrace", None)
        if stacktrace and self._logger.isEnabledFor(logging.WARNING):
            text = msg.pop("message", None)
            ex_type = msg.pop("ex_type", None)
            self._logger.warning("%s\n%s: %s\n%s", _fields(msg), ex_type, text, stacktrace)
        elif self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug("%s", _fields(msg))


class DebugMessageOutput:
    """The text of `debug_console_message` messages, at INFO."""

    def __init__(self, opts):
        self._logger = logging.getLogger("Debug Logger")

    def process_message(self, message):
        text = message.get("text")
        if text and message.get("type") == "debug_console_message":
            self._logger.info(text)


def _window_percentile(ordered, percentile):
    """Linear interpolation at `percentile`% of sorted `ordered`, printed with 6 decimals."""
    if not ordered:
        return "None"
    fraction, whole = math.modf(percentile / 100 * (len(ordered) - 1))
    low = ordered[int(whole)]
    if fraction == 0:
        return f"{low:.6f}"
    return f"{low + (ordered[int(whole) + 1] - low) * fraction:.6f}"


class GenericStatsOutput:
    """Counts the messages of `message_types` (their `total_time`) and errors, and every
    `period` seconds (checked as messages arrive) logs the totals and the last window's
    rate and percentiles to the `"{log_name} Stats"` logger."""

    message_types = set()
    log_name = "Generic"

    def __init__(self, opts, period=2):
        self._period = period
        self._journey_logging = bool(opts.get("--journey-logging", False))
        self._hide_constant_logs = bool(opts.get("--hide-constant-logs"))
        self._benchmark_percentiles = opts.get("--benchmark-percentiles") or ""
        self._logger = logging.getLogger(f"{self.log_name} Stats")
        self._window_start = None
        self._req_total = self._req_recent = 0
        self._error_total = self._error_recent = 0
        self._recent = []
        self._resp_time_store = []
        self._req_sec_store = []
        self._resp_time_min = self._resp_time_max = 0
        self._req_sec_min = self._req_sec_max = 0
        self._data_transferred = 0
        self._error_journeys = defaultdict(int)

    @property
    def error_total(self):
        return self._error_total

    def process_message(self, message):
        kind = message.get("type")
        if kind is None:
            return
        now = time.time()
        if self._window_start is None:
            self._window_start = now
        if now > self._window_start + self._period:
            self._close_window(now)
            self.print_output(now)
        if kind in self.message_types:
            self._recent.append(message["total_time"])
            self._data_transferred += message.get("download_size", 0)
            self._req_total += 1
            self._req_recent += 1
        elif kind in ("error", "exception"):
            self._error_total += 1
            self._error_recent += 1
            if self._journey_logging:
                self._error_journeys[message.get("journey")] += 1

    def _close_window(self, now):
        if self._recent:
            self._resp_time_store.extend(self._recent)
            low, high = min(self._resp_time_store), max(self._resp_time_store)
            self._resp_time_min = low if not self._resp_time_min else min(low, self._resp_time_min)
            self._resp_time_max = max(high, self._resp_time_max)
        if self._req_recent:
            rate = self._req_recent / (now - self._window_start)
            self._req_sec_store.append(rate)
            self._req_sec_min = rate if not self._req_sec_min else min(rate, self._req_sec_min)
            self._req_sec_max = max(rate, self._req_sec_max)

    def print_output(self, t):
        """Logs the totals and the window that ends at `t`, then starts the next."""
        elapsed = t - self._window_start
        self._recent.sort()
        if not self._hide_constant_logs:
            self._logger.info(f"Total> #Reqs:{self._req_total} #Errs:{self._error_total}")
        if self._journey_logging:
            for journey, count in self._error_journeys.items():
                self._logger.info(f"Total errors for {journey} :{count}")
        if not self._hide_constant_logs:
            percentiles = " ".join(
                f"{label}:{_window_percentile(self._recent, p)}"
                for label, p in [
                    ("min", 0),
                    ("25%", 25),
                    ("50%", 50),
                    ("75%", 75),
                    ("90%", 90),
                    ("99%", 99),
                    ("99.9%", 99.9),
                    ("max", 100),
                ]
            )
            self._logger.info(
                f"Last {self._period} Secs> #Reqs:{self._req_recent} #Errs:{self._error_recent} "
                f"Req/S:{self._req_recent / elapsed:.1f} {percentiles}"
            )
        self._window_start = t
        self._recent = []
        self._req_recent = self._error_recent = 0

    # The run's figures, as mite's thresholds and report read them.

    @property
    def mean_resp_time(self):
        return statistics.fmean(self._resp_time_store) if self._resp_time_store else 0

    @property
    def max_resp_time_recent(self):
        return max(self._resp_time_store, default=0)

    @property
    def min_resp_time_recent(self):
        return min(self._resp_time_store, default=0)

    @property
    def resp_time_standard_deviation(self):
        store = self._resp_time_store
        return statistics.stdev(store) if len(store) > 1 else 0

    @property
    def req_sec_mean(self):
        return statistics.fmean(self._req_sec_store) if self._req_sec_store else 0

    @property
    def req_sec_standard_deviation(self):
        store = self._req_sec_store
        return statistics.stdev(store) if len(store) > 1 else 0

    @staticmethod
    def _share_within_one_deviation(values, mean, deviation):
        if not values:
            return 0
        return sum(abs(v - mean) < deviation for v in values) / len(values) * 100

    @property
    def resp_time_within_standard_deviation(self):
        return self._share_within_one_deviation(
            self._resp_time_store, self.mean_resp_time, self.resp_time_standard_deviation
        )

    @property
    def req_sec_within_standard_deviation(self):
        return self._share_within_one_deviation(
            self._req_sec_store, self.req_sec_mean, self.req_sec_standard_deviation
        )

    @property
    def percentiles_list_resp_time_store(self):
        """`(percentile, threshold, value)` for each `P:THRESHOLD` of
        `--benchmark-percentiles`, over every response time so far."""
        if len(self._resp_time_store) < 2 or not self._benchmark_percentiles:
            return []
        cut_points = statistics.quantiles(self._resp_time_store, n=100)
        out = []
        for pair in self._benchmark_percentiles.split(","):
            percentile, threshold = (int(part) for part in pair.split(":"))
            out.append((percentile, threshold, cut_points[percentile - 1]))
        return out


class HttpStatsOutput(GenericStatsOutput):
    message_types = {
        "http_metrics",
        "selenium_page_load_metrics",
        "selenium_network_resource_metrics",
    }
    log_name = "Http"


class FinagleStatsOutput(GenericStatsOutput):
    message_types = {"finagle_metrics"}
    log_name = "Finagle"

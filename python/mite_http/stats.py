"""The HTTP stats: responses by method and status, and a response-time histogram.

The histogram's bucket bounds (seconds) come from ``MITE_HTTP_HISTOGRAM_BUCKETS``, a
comma-separated list read when this module is imported (``_generate_stats()`` reads it again).
``DNS_STATS`` is defined for packages that want it but is not registered as an entry point.
"""

import os

from mite.stats import Counter, Histogram, extractor, matcher_by_type

__all__ = ["DNS_STATS", "STATS"]

DEFAULT_BUCKETS = "0.0001,0.001,0.01,0.05,0.1,0.2,0.4,0.8,1,2,4,8,16,32,64"


def _buckets(variable):
    return [float(bound) for bound in os.environ.get(variable, DEFAULT_BUCKETS).split(",")]


def _generate_stats():
    http_metrics = matcher_by_type("http_metrics")
    return (
        Counter(
            name="mite_http_response_total",
            matcher=http_metrics,
            extractor=extractor(["test", "journey", "transaction", "method", "response_code"]),
        ),
        Histogram(
            name="mite_http_response_time_seconds",
            matcher=http_metrics,
            extractor=extractor(["transaction"], "total_time"),
            bins=_buckets("MITE_HTTP_HISTOGRAM_BUCKETS"),
        ),
    )


def _generate_dns_stats():
    return (
        Histogram(
            name="mite_dns_time",
            matcher=matcher_by_type("http_metrics"),
            extractor=extractor(["transaction"], "dns_time"),
            bins=_buckets("MITE_DNS_HISTOGRAM_BUCKETS"),
        ),
    )


STATS = _generate_stats()
DNS_STATS = _generate_dns_stats()

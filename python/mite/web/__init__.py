"""What mite's web exporter serves: ``prometheus_metrics`` holds the stats that ``/metrics``
renders (``mite.web.prometheus``). mite-rs serves ``/metrics`` from its Rust core."""

from .prometheus import PrometheusMetrics

__all__ = ["PrometheusMetrics", "prometheus_metrics"]

prometheus_metrics = PrometheusMetrics()

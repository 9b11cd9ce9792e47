"""The collector: raw msgpack messages into rolling files under ``target_dir``. Native."""

from mite._mite import Collector

__all__ = ["Collector"]

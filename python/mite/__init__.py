"""mite-rs: the mite load-testing framework on a Rust core.

Journeys, datapools, volume models and scenarios written for mite run unchanged; the native
core (`mite._mite`) does the scheduling, messaging, recording and HTTP.
"""

from importlib import metadata as _metadata

import mite.utils  # noqa: F401  (mite imports it eagerly; user code relies on mite.utils)
from mite.context import Context
from mite.exceptions import MiteError
from mite.separation import (
    ensure_average_separation,
    ensure_fixed_separation,
    ensure_separation_from_callable,
)

try:
    __version__ = _metadata.version("mite")
except _metadata.PackageNotFoundError:  # running from a source tree
    pass


def test_context(extensions=("http",), **config):
    """A Context whose messages are printed, for trying journeys by hand."""
    return Context(print, dict(config))


__all__ = [
    "Context",
    "MiteError",
    "ensure_average_separation",
    "ensure_fixed_separation",
    "ensure_separation_from_callable",
    "test_context",
]

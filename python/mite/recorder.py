"""The recorder: ``data_created`` messages append their ``data`` to
``<target_dir>/<name>.msgpack``; ``purge_data`` deletes the file. Native."""

from mite._mite import Recorder

__all__ = ["Recorder"]

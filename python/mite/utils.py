"""Small helpers shared by the CLI, the message bus and journeys."""

import asyncio
import importlib

import msgpack

__all__ = ["pack_msg", "sleep", "spec_import", "unpack_msg"]

_BACKEND_MODULES = {"ZMQ": "mite.zmq", "nanomsg": "mite.nanomsg"}


def spec_import(spec):
    """The object named by ``"package.module:attribute"``.

    Only the first ``:`` splits; a missing module raises ``ModuleNotFoundError``, a missing
    attribute ``AttributeError``.
    """
    module_name, attribute = spec.split(":", 1)
    return getattr(importlib.import_module(module_name), attribute)


def pack_msg(msg):
    """Encode a message for the bus; ``bytes`` become msgpack bin, ``str`` msgpack str."""
    return msgpack.packb(msg, use_bin_type=True)


def unpack_msg(raw):
    """Decode a bus message: arrays come back as tuples, and map keys may be ints or tuples."""
    return msgpack.unpackb(raw, use_list=False, raw=False, strict_map_key=False)


async def sleep(delay, always=False, **kwargs):
    """``asyncio.sleep``, kept as one place that tests and tools can replace.

    ``always`` is accepted for compatibility and ignored.
    """
    await asyncio.sleep(delay, **kwargs)


def _msg_backend_module(opts):
    """The transport module chosen by the ``--message-backend`` option (exact spelling)."""
    backend = opts["--message-backend"]
    if backend not in _BACKEND_MODULES:
        raise ValueError(f"Unsupported backend {backend}")
    return importlib.import_module(_BACKEND_MODULES[backend])

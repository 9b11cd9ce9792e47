import asyncio
import os.path
import struct
import sys
import time
import types

import pytest

import mite.utils
from mite.utils import _msg_backend_module, pack_msg, sleep, spec_import, unpack_msg

# spec_import


def test_spec_import_returns_the_named_attribute():
    assert spec_import("os.path:join") is os.path.join


def test_spec_import_splits_at_the_first_colon(monkeypatch):
    module = types.ModuleType("spec_import_target")
    setattr(module, "odd:name", "found")
    monkeypatch.setitem(sys.modules, "spec_import_target", module)

    assert spec_import("spec_import_target:odd:name") == "found"


def test_spec_import_of_a_missing_module_raises():
    with pytest.raises(ModuleNotFoundError):
        spec_import("no_such_module_for_mite_tests:thing")


def test_spec_import_of_a_missing_attribute_raises():
    with pytest.raises(AttributeError):
        spec_import("os.path:no_such_attribute")


def test_spec_import_without_a_colon_raises():
    with pytest.raises(ValueError):
        spec_import("os.path")


# pack_msg / unpack_msg


def test_a_message_round_trips():
    msg = {"type": "txn", "time": 1700000000.25, "had_error": False, "transaction": None}

    assert unpack_msg(pack_msg(msg)) == msg


def test_tuples_come_back_as_tuples():
    assert unpack_msg(pack_msg({"work": (1, "a", (2, 3))})) == {"work": (1, "a", (2, 3))}


def test_lists_come_back_as_tuples():
    assert unpack_msg(pack_msg([1, [2, 3]])) == (1, (2, 3))


def test_bytes_stay_bytes_and_str_stays_str():
    assert unpack_msg(pack_msg({"method": b"GET", "url": "http://x"})) == {
        "method": b"GET",
        "url": "http://x",
    }


def test_bytes_are_packed_as_msgpack_bin():
    # 0xc4 is bin 8; without use_bin_type bytes would be packed as str (0xa3).
    assert pack_msg(b"GET") == b"\xc4\x03GET"


def test_floats_are_packed_as_float64():
    assert pack_msg(1.5) == b"\xcb" + struct.pack(">d", 1.5)


def test_int_map_keys_round_trip():
    assert unpack_msg(pack_msg({1: "a", 2: "b"})) == {1: "a", 2: "b"}


def test_tuple_map_keys_round_trip():
    assert unpack_msg(pack_msg({(1, "x"): 3})) == {(1, "x"): 3}


# sleep


def test_sleep_passes_delay_and_keywords_to_asyncio_sleep(monkeypatch):
    calls = []

    async def fake_sleep(delay, **kwargs):
        calls.append((delay, kwargs))

    monkeypatch.setattr(mite.utils.asyncio, "sleep", fake_sleep)

    asyncio.run(sleep(0.5, always=True, result="r"))

    assert calls == [(0.5, {"result": "r"})]


def test_sleep_waits():
    started = time.monotonic()

    asyncio.run(sleep(0.02))

    assert time.monotonic() - started >= 0.02


# _msg_backend_module


@pytest.mark.parametrize(
    ("option", "module_name"), [("ZMQ", "mite.zmq"), ("nanomsg", "mite.nanomsg")]
)
def test_backend_option_selects_the_transport_module(monkeypatch, option, module_name):
    transport = types.ModuleType(module_name)
    monkeypatch.setitem(sys.modules, module_name, transport)

    assert _msg_backend_module({"--message-backend": option}) is transport


@pytest.mark.parametrize("option", ["zmq", "NANOMSG", "tcp"])
def test_unknown_backend_raises(option):
    with pytest.raises(ValueError, match=f"^Unsupported backend {option}$"):
        _msg_backend_module({"--message-backend": option})

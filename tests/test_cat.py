"""`mite cat` and `mite uncat` run as a user runs them, checked against what Python's own
msgpack and json modules make of the same data."""

import json
import os
import signal
import subprocess
import sys
import time

import msgpack
import pytest

from mite.utils import pack_msg

MITE = [sys.executable, "-m", "mite"]

RECORDS = [
    {"type": "txn", "time": 1700000000.123456, "transaction": "Login", "had_error": False},
    {"type": "http_metrics", "method": b"GET", "response_code": 200, "total_time": 0.000012},
    {"type": "data_created", "name": "users", "data": {"id": 7, "tags": ["a", "é", "😀"]}},
    {"type": "odd", 1: "int key", 2.5: "float key", None: "null key", "nested": [[1, 2], None]},
    {
        "type": "numbers",
        "big": 2**64 - 1,
        "neg": -(2**63),
        "nan": float("nan"),
        "inf": float("inf"),
    },
]


class BytesAsText(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, bytes):
            return o.decode("utf-8")
        return super().default(o)


def python_json_lines(data):
    """The reference: each record as Python's json.dump writes what msgpack gives it."""
    unpacker = msgpack.Unpacker(use_list=False, raw=False, strict_map_key=False)
    unpacker.feed(data)
    return "".join(json.dumps(row, cls=BytesAsText) + "\n" for row in unpacker)


def write_records(path, records):
    path.write_bytes(b"".join(pack_msg(r) for r in records))
    return path.read_bytes()


def mite(*args, stdin=None, env=None, cwd=None):
    return subprocess.run(
        [*MITE, *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=60,
    )


def test_cat_prints_what_pythons_json_makes_of_each_record(tmp_path):
    data = write_records(tmp_path / "current", RECORDS)
    result = mite("cat", str(tmp_path / "current"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == python_json_lines(data)


def test_prettified_timestamps_are_local_date_times_as_datetime_writes_them(tmp_path):
    zone = "XYZ-5:30"  # a POSIX TZ string: no zone database needed
    stamps = [1700000000.123456, 1700000000, 1700000000.5, "1700000001.25"]
    records = [{"time": t, "start_time": t, "end_time": t, "other": 1.5} for t in stamps]
    write_records(tmp_path / "f", records)
    result = mite("cat", "--prettify-timestamps", str(tmp_path / "f"), env={"TZ": zone})
    assert result.returncode == 0, result.stderr
    expected = subprocess.run(
        [
            sys.executable,
            "-c",
            "import datetime, sys\n"
            "for t in sys.argv[1:]:\n"
            "    print(datetime.datetime.fromtimestamp(float(t)).isoformat())",
            *map(str, stamps),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": zone},
        check=True,
    ).stdout.split()
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [r["time"] for r in rows] == expected
    assert [r["end_time"] for r in rows] == expected
    assert {r["other"] for r in rows} == {1.5}


def test_a_truncated_file_prints_its_whole_records_then_says_where_it_is_damaged(tmp_path):
    whole = b"".join(pack_msg(r) for r in RECORDS[:3])
    (tmp_path / "cut").write_bytes(whole + pack_msg(RECORDS[3])[:6])
    result = mite("cat", str(tmp_path / "cut"))
    assert result.returncode == 1
    assert result.stdout.decode() == python_json_lines(whole)
    assert result.stderr.decode().splitlines() == [
        f"mite: error: {tmp_path / 'cut'} is damaged at byte {len(whole)}, "
        "after 3 whole records: truncated msgpack data"
    ]


def test_bytes_that_are_not_msgpack_stop_the_output_where_they_start(tmp_path):
    first = pack_msg(RECORDS[0])
    (tmp_path / "bad").write_bytes(first + b"\xc1" + pack_msg(RECORDS[1]))
    result = mite("cat", str(tmp_path / "bad"))
    assert result.returncode == 1
    assert result.stdout.decode() == python_json_lines(first)
    assert f"is damaged at byte {len(first)}, after 1 whole records" in result.stderr.decode()


def test_a_missing_file_is_one_line_and_exit_1(tmp_path):
    result = mite("cat", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode().splitlines() == [
        f"mite: error: cannot open {tmp_path / 'nope'}: No such file or directory"
    ]


def test_a_large_file_streams_in_constant_memory(tmp_path):
    # About 60 MB of records: the peak RSS must not grow with the file.
    record = pack_msg({"type": "txn", "payload": "x" * 200, "n": 1})
    path = tmp_path / "big"
    with path.open("wb") as handle:
        for _ in range(300):
            handle.write(record * 1000)
    probe = (
        "import resource, subprocess, sys\n"
        "subprocess.run([sys.executable, '-m', 'mite', 'cat', sys.argv[1]],"
        " stdout=subprocess.DEVNULL, check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    started = time.monotonic()
    peak_kib = int(
        subprocess.run(
            [sys.executable, "-c", probe, str(path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
    )
    assert path.stat().st_size > 60_000_000
    assert peak_kib < 60_000, f"mite cat peaked at {peak_kib} KiB on a 60 MB file"
    assert time.monotonic() - started < 120


def test_a_closed_pipe_ends_cat_quietly(tmp_path):
    write_records(tmp_path / "f", RECORDS * 2000)
    cat = subprocess.Popen(
        [*MITE, "cat", str(tmp_path / "f")], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    first = cat.stdout.readline()
    cat.stdout.close()
    _, err = cat.communicate(timeout=30)
    assert json.loads(first)["type"] == "txn"
    assert cat.returncode == 0
    assert err == b""


def test_uncat_writes_pack_msg_of_each_json_line(tmp_path):
    values = [{"a": 1, "b": [1, 2.5, None, True]}, [], "text é", -3, {"x": {"y": "z"}}]
    lines = "".join(json.dumps(v) + "\n" for v in values)
    result = mite("uncat", stdin=lines.encode())
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"".join(pack_msg(v) for v in values)


def test_cat_then_uncat_gives_a_collector_file_back(tmp_path):
    plain = [r for r in RECORDS if "method" not in r and "nan" not in r and 1 not in r]
    data = write_records(tmp_path / "f", plain)
    text = mite("cat", str(tmp_path / "f")).stdout
    assert mite("uncat", stdin=text).stdout == data


def test_uncat_names_the_line_that_is_not_json():
    result = mite("uncat", stdin=b'{"ok": 1}\n{"broken": \n')
    assert result.returncode == 1
    assert result.stdout == pack_msg({"ok": 1})
    assert result.stderr.decode().startswith("mite: error: stdin: line 2 is not JSON: ")


@pytest.mark.parametrize("line", ["[NaN, Infinity, -Infinity]", '{"a": 1, "a": 2}'])
def test_uncat_reads_json_as_pythons_json_module_does(line):
    result = mite("uncat", stdin=(line + "\n").encode())
    assert result.returncode == 0, result.stderr
    expected = pack_msg(json.loads(line))
    assert result.stdout == expected


def test_prettify_leaves_a_record_without_timestamps_alone(tmp_path):
    write_records(tmp_path / "f", [{"type": "x", "time": "not a number"}])
    result = mite("cat", "--prettify-timestamps", str(tmp_path / "f"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"type": "x", "time": "not a number"}


def test_ctrl_c_stops_a_long_cat_with_exit_130(tmp_path):
    record = pack_msg({"type": "txn", "payload": "x" * 200})
    path = tmp_path / "big"
    with path.open("wb") as handle:
        for _ in range(400):
            handle.write(record * 1000)
    cat = subprocess.Popen(
        [*MITE, "cat", str(path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert cat.stdout.readline()  # it is running
    cat.send_signal(signal.SIGINT)
    # Keep reading so a full pipe cannot hide whether it stopped.
    rest = cat.stdout.read()
    assert cat.wait(timeout=30) == 130
    assert len(rest) < path.stat().st_size

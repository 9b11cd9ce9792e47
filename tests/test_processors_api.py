"""mite.recorder.Recorder and mite.collector.Collector used directly, as mite's API."""

import errno
import gc
import json

import msgpack
import pytest

from mite.collector import Collector
from mite.recorder import Recorder
from mite.utils import pack_msg


def read_stream(path):
    with path.open("rb") as handle:
        return list(msgpack.Unpacker(handle, raw=False, strict_map_key=False))


def test_recorder_appends_only_the_data_of_data_created_messages(tmp_path):
    recorder = Recorder(str(tmp_path / "rec"))
    recorder.process_message({"type": "data_created", "name": "users", "data": {"u": 1}})
    recorder.process_message({"type": "data_created", "name": "users", "data": {"u": 2}})
    recorder.process_message({"type": "txn", "name": "users", "data": {"u": 3}})
    assert read_stream(tmp_path / "rec" / "users.msgpack") == [{"u": 1}, {"u": 2}]


def test_recorder_purge_deletes_the_file_and_a_missing_file_is_fine(tmp_path):
    recorder = Recorder(str(tmp_path))
    recorder.process_message({"type": "data_created", "name": "users", "data": 1})
    recorder.process_message({"type": "purge_data", "name": "users"})
    assert not (tmp_path / "users.msgpack").exists()
    recorder.process_message({"type": "purge_data", "name": "users"})


def test_recorder_defaults_to_recorded_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Recorder()
    assert (tmp_path / "recorded_data").is_dir()


def test_collector_writes_raw_messages_and_flushes_when_collected(tmp_path):
    collector = Collector(str(tmp_path))
    for n in range(3):
        collector.process_raw_message(pack_msg({"type": "txn", "n": n}))
    del collector
    gc.collect()
    assert [m["n"] for m in read_stream(tmp_path / "current")] == [0, 1, 2]
    assert (tmp_path / "current_start_time").read_text().strip().isdigit()


def test_collector_rolls_after_the_given_number_of_messages(tmp_path):
    collector = Collector(str(tmp_path), roll_after=2, collector_id="c7")
    for n in range(5):
        collector.process_raw_message(pack_msg({"n": n}))
    collector.close()
    rolled = sorted(p for p in tmp_path.iterdir() if p.name.count("_") == 3)
    assert len(rolled) == 2
    assert all(p.name.split("_")[2] == "c7" for p in rolled)
    assert [m["n"] for m in read_stream(tmp_path / "current")] == [4]


def test_collector_filter_gets_raw_bytes_and_json_mode_writes_lines(tmp_path):
    seen = []

    def keep_even(raw):
        seen.append(type(raw))
        return msgpack.unpackb(raw)["n"] % 2 == 0

    collector = Collector(str(tmp_path), filter_fn=keep_even, use_json=True)
    for n in range(4):
        collector.process_raw_message(pack_msg({"n": n}))
    collector.flush()
    lines = (tmp_path / "current").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"n": 0}, {"n": 2}]
    assert seen == [bytes] * 4


def test_a_recorder_directory_that_cannot_be_made_is_an_oserror_naming_it(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError) as caught:
        Recorder(str(blocker / "rec"))
    assert caught.value.errno == errno.ENOTDIR
    assert caught.value.filename == str(blocker / "rec")


def test_a_recorder_that_cannot_write_raises_the_errnos_oserror_subclass(tmp_path):
    recorder = Recorder(str(tmp_path / "rec"))
    (tmp_path / "rec").rmdir()
    with pytest.raises(FileNotFoundError) as caught:
        recorder.process_message({"type": "data_created", "name": "users", "data": 1})
    assert caught.value.filename == str(tmp_path / "rec" / "users.msgpack")


def test_a_bad_message_to_the_recorder_is_a_valueerror(tmp_path):
    recorder = Recorder(str(tmp_path))
    with pytest.raises(ValueError, match="must not contain path separators"):
        recorder.process_message({"type": "data_created", "name": "../escape", "data": 1})

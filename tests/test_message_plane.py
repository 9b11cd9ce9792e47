"""Distributed mode's message plane as separate processes over real ZeroMQ sockets: `mite
duplicator`, `collector`, `recorder`, `stats` and `prometheus_exporter`, fed by a pyzmq PUSH
socket as a runner would feed them (one msgpack map per frame)."""

import signal
import subprocess
import sys
import time
import urllib.request

import msgpack
import pytest
import zmq
from conftest import free_port

STARTUP_DEADLINE = 20


def tcp():
    return f"tcp://127.0.0.1:{free_port()}"


def start(*args, cwd):
    return subprocess.Popen(
        [sys.executable, "-m", "mite", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def txn(name, had_error=False):
    return {
        "type": "txn",
        "time": time.time(),
        "test": "plane:scenario",
        "runner_id": 1,
        "journey": "plane:journey",
        "context_id": 1,
        "scenario_id": 1,
        "scenario_data_id": None,
        "transaction": name,
        "transaction_id": 2,
        "start_time": 1.0,
        "end_time": 1.5,
        "had_error": had_error,
    }


def http_metrics(name, code):
    return {
        "type": "http_metrics",
        "time": time.time(),
        "test": "plane:scenario",
        "journey": "plane:journey",
        "transaction": name,
        "transaction_id": 2,
        "method": b"GET",
        "response_code": code,
        "total_time": 0.02,
    }


def scrape(address):
    try:
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
            return response.read().decode()
    except OSError:
        return None


class Plane:
    """The pipeline of mite's documented topology, on free ports of 127.0.0.1."""

    def __init__(self, tmp_path):
        self.messages, self.to_collector, self.to_stats, self.to_recorder = (
            tcp(),
            tcp(),
            tcp(),
            tcp(),
        )
        self.stats_out = tcp()
        self.web = f"127.0.0.1:{free_port()}"
        self.collector_dir = tmp_path / "collected"
        self.recorder_dir = tmp_path / "recorded"
        common = dict(cwd=tmp_path)
        self.processes = {
            "duplicator": start(
                "duplicator",
                f"--message-socket={self.messages}",
                self.to_collector,
                self.to_stats,
                self.to_recorder,
                **common,
            ),
            "collector": start(
                "collector",
                f"--collector-socket={self.to_collector}",
                f"--collector-dir={self.collector_dir}",
                **common,
            ),
            "stats": start(
                "stats",
                f"--stats-in-socket={self.to_stats}",
                f"--stats-out-socket={self.stats_out}",
                **common,
            ),
            "recorder": start(
                "recorder",
                f"--recorder-socket={self.to_recorder}",
                f"--recorder-dir={self.recorder_dir}",
                **common,
            ),
            "exporter": start(
                "prometheus_exporter",
                f"--stats-out-socket={self.stats_out}",
                f"--web-address={self.web}",
                **common,
            ),
        }
        self.context = zmq.Context()
        self.sender = self.context.socket(zmq.PUSH)
        self.sender.setsockopt(zmq.LINGER, 2000)
        self.sender.connect(self.messages)

    def send(self, message):
        self.sender.send(msgpack.packb(message, use_bin_type=True))

    def send_raw(self, *parts):
        self.sender.send_multipart(parts)

    def wait_until_connected(self):
        """The duplicator drops what an output cannot take, as mite's does: send probes until
        one has come through the whole pipeline."""
        deadline = time.time() + STARTUP_DEADLINE
        while time.time() < deadline:
            self.send(txn("probe"))
            time.sleep(0.2)
            if 'transaction="probe"' in (scrape(self.web) or ""):
                return
            for name, process in self.processes.items():
                assert process.poll() is None, (name, process.communicate())
        pytest.fail("the pipeline did not carry a message within the deadline")

    def metric(self, line_start):
        for line in (scrape(self.web) or "").splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
        return None

    def stop(self, sig=signal.SIGTERM):
        self.sender.close()
        self.context.term()
        results = {}
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(sig)
        for name, process in self.processes.items():
            out, err = process.communicate(timeout=20)
            results[name] = (process.returncode, out, err)
        return results


@pytest.fixture
def plane(tmp_path):
    plane = Plane(tmp_path)
    yield plane
    for process in plane.processes.values():
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_for(predicate, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def collected(directory):
    """Every message in the collector's files (rolled and current)."""
    messages = []
    for path in sorted(directory.iterdir()):
        if path.name.endswith("_start_time"):
            continue
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        unpacker.feed(path.read_bytes())
        messages.extend(unpacker)
    return messages


def test_a_pipeline_of_components_counts_collects_and_records_every_message(plane):
    plane.wait_until_connected()
    for i in range(300):
        plane.send(txn("__root__ :: Counted", had_error=i % 3 == 0))
        plane.send(http_metrics("__root__ :: Counted", 200 if i % 10 else 500))
    for i in range(20):
        plane.send({"type": "data_created", "time": time.time(), "name": "users", "data": [i]})

    ok = 'mite_transaction_total {test="plane:scenario",journey="plane:journey",'
    ok += 'transaction="__root__ :: Counted",had_error="False"}'
    assert wait_for(lambda: plane.metric(ok) == 200), scrape(plane.web)
    failed = ok.replace('"False"', '"True"')
    assert plane.metric(failed) == 100
    responses = 'mite_http_response_total {test="plane:scenario",journey="plane:journey",'
    responses += 'transaction="__root__ :: Counted",method="GET",response_code="500"}'
    assert plane.metric(responses) == 30
    count = 'mite_http_response_time_seconds_count{transaction="__root__ :: Counted"}'
    assert plane.metric(count) == 300

    results = plane.stop()
    for name, (code, _out, err) in results.items():
        assert code == 143, (name, code, err)
        assert "Traceback" not in err and "panicked" not in err, (name, err)
    # Flushed on SIGTERM: every message the collector and the recorder received is on disk.
    kinds = [m["type"] for m in collected(plane.collector_dir)]
    assert kinds.count("http_metrics") == 300
    assert kinds.count("data_created") == 20
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed((plane.recorder_dir / "users.msgpack").read_bytes())
    assert [item for item in unpacker] == [[i] for i in range(20)]


def test_bad_frames_are_logged_once_and_skipped(plane):
    plane.wait_until_connected()
    for _ in range(5):
        plane.send_raw(b"\xc1 not msgpack")
        plane.send_raw(msgpack.packb([1, 2, 3]))
        plane.send_raw(msgpack.packb({"no": "type"}))
        plane.send_raw(b"part one", b"part two")
    plane.send(txn("after the bad ones"))
    line = 'mite_transaction_total {test="plane:scenario",journey="plane:journey",'
    line += 'transaction="after the bad ones",had_error="False"}'
    assert wait_for(lambda: plane.metric(line) == 1), scrape(plane.web)
    results = plane.stop(signal.SIGINT)
    code, _out, err = results["stats"]
    assert code == 130, err
    assert err.count("not msgpack") == 1, err
    assert "malformed messages: 15 in all" in err, err
    # The duplicator forwards single frames unchanged and skips the multi-part ones.
    _code, _out, err = results["duplicator"]
    assert err.count("skipped a message of 2 parts") == 1, err
    assert "multi-part messages: 5 in all" in err, err
    _code, _out, err = results["recorder"]
    assert err.count("skipped a message") == 1, err


@pytest.mark.parametrize(
    "args, expected",
    [
        (["duplicator"], "OUT_SOCKET"),
        (
            ["duplicator", "--message-socket=127.0.0.1:1", "tcp://127.0.0.1:2"],
            '--message-socket: "127.0.0.1:1" is not a ZeroMQ address',
        ),
        (["stats", "--stats-in-socket=tcp://127.0.0.1:notaport"], "--stats-in-socket: "),
        (["prometheus_exporter", "--web-address=127.0.0.1:x"], "--web-address: "),
        (["stats", "--stats-include-processors=nonexistent"], None),
    ],
)
def test_bad_component_options_are_one_line(tmp_path, args, expected):
    process = start(*args, cwd=tmp_path)
    try:
        _out, err = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        # A selection of no processors is not an error (mite starts with none); it runs.
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=15)
        assert expected is None, err
        assert "Counting stats of no processors" in err, err
        return
    assert process.returncode != 0
    assert expected is not None and expected in err, err
    assert "Traceback" not in err and "panicked" not in err, err
    # One error line (clap's usage errors add the usage after it).
    assert len([line for line in err.splitlines() if "error:" in line]) == 1, err


def test_the_exporter_binds_its_address_once(tmp_path):
    address = tcp()
    web = f"127.0.0.1:{free_port()}"
    first = start(
        "prometheus_exporter", f"--stats-out-socket={address}", f"--web-address={web}", cwd=tmp_path
    )
    try:
        assert wait_for(lambda: scrape(web) is not None), first.poll()
        second = start(
            "prometheus_exporter",
            f"--stats-out-socket={address}",
            f"--web-address=127.0.0.1:{free_port()}",
            cwd=tmp_path,
        )
        _out, err = second.communicate(timeout=15)
        assert second.returncode == 1
        assert f"cannot bind {address}" in err, err
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=15)


PROCESSORS = """\
import json


class Dicts:
    def process_message(self, message):
        with open("dicts.jsonl", "a") as out:
            out.write(json.dumps({"type": message["type"], "n": message["n"]}) + "\\n")


class Raw:
    def process_raw_message(self, raw):
        if raw == b"stop-raising":
            return
        with open("raw.txt", "a") as out:
            out.write(f"{type(raw).__name__} {len(raw)}\\n")


class Flaky:
    def process_message(self, message):
        raise ValueError("flaky")


class Neither:
    pass
"""


def test_the_receiver_hands_dicts_and_raw_frames_to_its_processors(tmp_path):
    (tmp_path / "procs.py").write_text(PROCESSORS)
    address = tcp()
    context = zmq.Context()
    push = context.socket(zmq.PUSH)
    push.bind(address)
    receiver = start(
        "receiver",
        address,
        "--processor=procs:Dicts",
        "--processor=procs:Raw",
        "--processor=procs:Flaky",
        cwd=tmp_path,
    )
    frames = [msgpack.packb({"type": "note", "n": n}) for n in range(5)]
    for frame in frames:
        push.send(frame)
    assert wait_for(
        lambda: (
            len((tmp_path / "dicts.jsonl").read_text().splitlines()) == 5
            if (tmp_path / "dicts.jsonl").exists()
            else False
        )
    )
    receiver.send_signal(signal.SIGTERM)
    _out, err = receiver.communicate(timeout=20)
    push.close(linger=0)
    context.term()
    assert receiver.returncode == 143, err
    assert [line for line in (tmp_path / "dicts.jsonl").read_text().splitlines()] == [
        f'{{"type": "note", "n": {n}}}' for n in range(5)
    ]
    # Raw processors get the bytes (mite hands them the dict).
    assert (tmp_path / "raw.txt").read_text().splitlines() == [
        f"bytes {len(frame)}" for frame in frames
    ]
    assert err.count("processor 'procs:Flaky' failed") == 1, err
    assert "Traceback" not in err


def test_a_receiver_processor_without_the_methods_is_one_line(tmp_path):
    (tmp_path / "procs.py").write_text(PROCESSORS)
    receiver = start("receiver", tcp(), "--processor=procs:Neither", cwd=tmp_path)
    _out, err = receiver.communicate(timeout=20)
    assert receiver.returncode == 1
    assert "mite: error: processor 'procs:Neither': processors must have one or both" in err

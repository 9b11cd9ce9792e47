"""`mite duplicator` between real pyzmq sockets: several runners' PUSH sockets in, outputs
over tcp and ipc with one or more PULL consumers each, and peers it must refuse."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import msgpack
import pytest
import zmq
from conftest import free_port

DEADLINE = 20


def tcp():
    return f"tcp://127.0.0.1:{free_port()}"


@pytest.fixture
def context():
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


def start_duplicator(tmp_path, message_socket, *outputs, env=None):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mite",
            "duplicator",
            f"--message-socket={message_socket}",
            *outputs,
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def pull(context, address):
    consumer = context.socket(zmq.PULL)
    consumer.setsockopt(zmq.RCVTIMEO, 200)
    consumer.connect(address)
    return consumer


def push(context, address):
    producer = context.socket(zmq.PUSH)
    producer.setsockopt(zmq.LINGER, 5000)
    producer.connect(address)
    return producer


def drain(consumer, into):
    """Everything waiting on `consumer`, decoded, appended to `into`; how many."""
    n = 0
    while True:
        try:
            into.append(msgpack.unpackb(consumer.recv(zmq.NOBLOCK)))
            n += 1
        except zmq.Again:
            return n


def wait_until_every_consumer_hears(producer, consumers):
    """The duplicator drops what an output with no consumer cannot take: probe until each
    consumer has had a probe (the probes are then thrown away)."""
    heard = [False] * len(consumers)
    deadline = time.time() + DEADLINE
    while not all(heard) and time.time() < deadline:
        producer.send(msgpack.packb({"type": "probe"}))
        time.sleep(0.05)
        for i, consumer in enumerate(consumers):
            heard[i] = heard[i] or drain(consumer, []) > 0
    assert all(heard), heard
    time.sleep(0.3)
    for consumer in consumers:
        drain(consumer, [])


def stop(process, sig=signal.SIGINT):
    process.send_signal(sig)
    out, err = process.communicate(timeout=20)
    return process.returncode, out, err


def test_every_runners_messages_reach_every_output_in_order(tmp_path, context):
    inbound, by_tcp = tcp(), tcp()
    by_ipc = f"ipc://{tmp_path}/to-stats"
    duplicator = start_duplicator(tmp_path, inbound, by_tcp, by_ipc)
    try:
        collector = pull(context, by_tcp)
        # Two consumers on one output share its messages, as PULL peers of a PUSH socket do.
        stats = [pull(context, by_ipc), pull(context, by_ipc)]
        producers = [push(context, inbound) for _ in range(3)]
        wait_until_every_consumer_hears(producers[0], [collector, *stats])

        per_producer = 20_000
        for seq in range(per_producer):
            for runner, producer in enumerate(producers):
                producer.send(msgpack.packb({"type": "txn", "runner": runner, "seq": seq}))
        total = per_producer * len(producers)
        got = {"collector": [], "stats0": [], "stats1": []}
        deadline = time.time() + DEADLINE
        while time.time() < deadline:
            drain(collector, got["collector"])
            drain(stats[0], got["stats0"])
            drain(stats[1], got["stats1"])
            if len(got["collector"]) >= total and len(got["stats0"]) + len(got["stats1"]) >= total:
                break
            time.sleep(0.02)
    finally:
        code, _out, err = stop(duplicator)
    assert code == 130, err
    assert "Traceback" not in err and "panicked" not in err, err

    def in_order(messages):
        by_runner = {}
        for m in messages:
            by_runner.setdefault(m["runner"], []).append(m["seq"])
        return all(seqs == sorted(seqs) for seqs in by_runner.values()), by_runner

    ordered, by_runner = in_order(got["collector"])
    assert ordered
    assert {r: len(s) for r, s in by_runner.items()} == {
        0: per_producer,
        1: per_producer,
        2: per_producer,
    }
    assert len(got["stats0"]) + len(got["stats1"]) == total
    assert got["stats0"] and got["stats1"], "both consumers of the ipc output take turns"
    assert in_order(got["stats0"])[0] and in_order(got["stats1"])[0]
    shared = sorted((m["runner"], m["seq"]) for m in got["stats0"] + got["stats1"])
    assert shared == sorted((r, s) for r in range(3) for s in range(per_producer))
    # The ipc socket file goes with the duplicator, as libzmq's does.
    assert not (tmp_path / "to-stats").exists()


def test_peers_that_are_not_runners_are_refused_with_one_line(tmp_path, context):
    inbound, out = tcp(), tcp()
    duplicator = start_duplicator(tmp_path, inbound, out)
    try:
        consumer = pull(context, out)
        # A PUB socket and a second PULL socket at the input, and a client that speaks HTTP.
        wrong = [context.socket(zmq.PUB), context.socket(zmq.PULL)]
        for s in wrong:
            s.connect(inbound)
        port = int(inbound.rsplit(":", 1)[1])
        deadline = time.time() + DEADLINE
        while True:
            try:
                http = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except ConnectionRefusedError:
                assert time.time() < deadline
                time.sleep(0.05)
        http.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b" " * 64)
        # The duplicator closes that connection once it has read a greeting that is not one.
        http.settimeout(10)
        assert http.recv(4096)[:1] == b"\xff"
        try:
            assert http.recv(4096) == b""
        except ConnectionResetError:
            pass  # closed with our bytes unread: the kernel resets instead
        http.close()
        producer = push(context, inbound)
        wait_until_every_consumer_hears(producer, [consumer])
        producer.send(msgpack.packb({"type": "txn", "after": True}))
        got = []
        deadline = time.time() + DEADLINE
        while not got and time.time() < deadline:
            drain(consumer, got)
            time.sleep(0.02)
        assert got == [{"type": "txn", "after": True}]
    finally:
        code, _out, err = stop(duplicator, signal.SIGTERM)
    assert code == 143, err
    assert err.count("refused a connection") == 1, err
    # libzmq reconnects a refused socket (every 100 ms), so there are at least three.
    refused = re.search(r"refused connections: (\d+) in all", err)
    assert refused and int(refused.group(1)) >= 3, err
    # Only the first refusal is logged, and which peer comes first is a race: the HTTP client,
    # the PUB socket, or a libzmq peer that hangs up while its greeting is being refused.
    reasons = ("does not speak ZMTP", "a PULL socket takes only PUSH peers", "early eof")
    assert any(reason in err for reason in reasons), err


def test_a_slow_consumer_holds_the_runners_back_and_a_stuck_one_is_dropped_for(tmp_path, context):
    """A consumer that pauses for a moment loses nothing (the inputs wait for it); one that
    stops reading holds them back only for a while, then its output drops for it alone."""
    inbound, steady, slow, stuck = tcp(), tcp(), tcp(), tcp()
    duplicator = start_duplicator(tmp_path, inbound, steady, slow, stuck)
    try:
        consumers = {
            name: pull(context, address) for name, address in [("steady", steady), ("slow", slow)]
        }
        stuck_consumer = context.socket(zmq.PULL)
        stuck_consumer.setsockopt(zmq.RCVHWM, 100)
        stuck_consumer.connect(stuck)
        producer = push(context, inbound)
        wait_until_every_consumer_hears(producer, [*consumers.values(), stuck_consumer])
        # The stuck consumer takes no more from here on.
        total = 100_000
        padding = "x" * 380  # about 40 MB in all: more than any buffer on the way holds

        def send_all():
            for seq in range(total):
                producer.send(msgpack.packb({"type": "txn", "seq": seq, "pad": padding}))

        sender = threading.Thread(target=send_all)
        sender.start()
        got = {name: [] for name in consumers}
        started = time.time()
        deadline = started + 60
        while time.time() < deadline:
            drain(consumers["steady"], got["steady"])
            if time.time() - started > 0.5:
                drain(consumers["slow"], got["slow"])
            if all(len(messages) >= total for messages in got.values()):
                break
            time.sleep(0.01)
        sender.join(timeout=60)
    finally:
        code, _out, err = stop(duplicator)
    assert code == 130, err
    for name, messages in got.items():
        assert [m["seq"] for m in messages] == list(range(total)), name
    # (Probes sent before every consumer had connected may be dropped for any output.)
    assert f"Duplicator message buffer full for address {stuck}" in err, err
    dropped = re.search(rf"{re.escape(stuck)}: (\d+) in all", err)
    assert dropped and int(dropped.group(1)) > total // 2, err


def test_sigusr1_prints_the_next_messages_as_mite_does(tmp_path, context):
    inbound, out = tcp(), tcp()
    env = {**os.environ, "MITE_DEBUG_MESSAGES_TO_DUMP": "2"}
    duplicator = start_duplicator(tmp_path, inbound, out, env=env)
    try:
        consumer = pull(context, out)
        producer = push(context, inbound)
        wait_until_every_consumer_hears(producer, [consumer])
        duplicator.send_signal(signal.SIGUSR1)
        time.sleep(0.5)  # the duplicator looks at its signals every 0.1 s
        for seq in range(3):
            producer.send(msgpack.packb({"type": "txn", "seq": seq}))
        got = []
        deadline = time.time() + DEADLINE
        while len(got) < 3 and time.time() < deadline:
            drain(consumer, got)
            time.sleep(0.02)
        assert [m["seq"] for m in got] == [0, 1, 2]
    finally:
        code, out_text, err = stop(duplicator)
    assert code == 130, err
    assert out_text.splitlines() == ["{'type': 'txn', 'seq': 0}", "{'type': 'txn', 'seq': 1}"]

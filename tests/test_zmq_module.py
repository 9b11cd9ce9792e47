"""`mite.zmq`: mite's transport classes on mite-rs's own ZeroMQ sockets, against each other
and against pyzmq peers (the library original mite uses), over loopback tcp."""

import asyncio
import errno
import threading
import time

import msgpack
import pytest
import zmq as pyzmq
from conftest import free_port

from mite import zmq
from mite._mite import ZmqSocket
from mite.utils import _msg_backend_module


def tcp():
    return f"tcp://127.0.0.1:{free_port()}"


def test_the_zmq_backend_option_names_this_module():
    assert _msg_backend_module({"--message-backend": "ZMQ"}) is zmq
    with pytest.raises(ValueError):
        _msg_backend_module({"--message-backend": "zmq"})


def test_a_sender_reaches_a_receiver_and_a_pyzmq_peer_sees_mites_frames():
    address = tcp()
    got, raw = [], []
    receiver = zmq.Receiver(listeners=[got.append], raw_listeners=[raw.append])
    receiver.bind(address)
    sender = zmq.Sender()
    sender.connect(address)
    message = {"type": "txn", "method": b"GET", "ids": (1, 2)}
    sender.send(message)
    receiver._run(stop_func=lambda: len(got) == 1)
    assert got == [{"type": "txn", "method": b"GET", "ids": (1, 2)}]
    assert raw == [msgpack.packb(message, use_bin_type=True)]

    # The same frame to a pyzmq PULL socket: byte for byte what mite's Sender sends.
    other = tcp()
    context = pyzmq.Context()
    pull = context.socket(pyzmq.PULL)
    pull.bind(other)
    sender = zmq.Sender()
    sender.connect(other)
    sender.send(message)
    assert pull.recv() == msgpack.packb(message, use_bin_type=True)
    pull.close()
    context.term()


class FakeController:
    def __init__(self):
        self.calls = []

    def hello(self):
        self.calls.append("hello")
        return 1, "mod:scenario", [("k", "v")]

    async def request_work(self, runner_id, current_work, completed, max_work):
        self.calls.append(("work", runner_id, current_work, completed, max_work))
        return [(1, 7, "mod:journey", (0, "s"))], [], max_work == 0

    def bye(self, runner_id):
        self.calls.append(("bye", runner_id))


def test_a_runner_transport_talks_to_a_controller_server():
    address = tcp()
    controller = FakeController()
    server = zmq.ControllerServer(address)

    async def serve():
        await server.run(controller, stop_func=lambda: len(controller.calls) == 4)

    thread = threading.Thread(target=lambda: asyncio.run(serve()))
    thread.start()

    async def runner():
        transport = zmq.RunnerTransport(address)
        hello = await transport.hello()
        first = await transport.request_work(1, {}, [], None)
        last = await transport.request_work(1, {1: 1}, [(1, 7)], 0)
        bye = await transport.bye(1)
        return hello, first, last, bye

    hello, first, last, bye = asyncio.run(runner())
    thread.join(timeout=10)
    assert hello == (1, "mod:scenario", (("k", "v"),))
    assert first == (((1, 7, "mod:journey", (0, "s")),), (), False)
    assert last[2] is True and bye is None
    assert controller.calls[2] == ("work", 1, {1: 1}, ((1, 7),), 0)


def test_a_pyzmq_req_socket_gets_mites_reply_bytes():
    # The exact exchange of the spec: [1, nil] -> (1, "T", [("k", "v")]).
    address = tcp()
    rep = ZmqSocket("REP")
    rep.bind(address)
    context = pyzmq.Context()
    req = context.socket(pyzmq.REQ)
    req.connect(address)
    req.send(bytes.fromhex("9201c0"))
    assert rep.recv() == bytes.fromhex("9201c0")
    rep.send(msgpack.packb((1, "T", [("k", "v")]), use_bin_type=True))
    assert req.recv() == bytes.fromhex("9301a1549192a16ba176")
    req.close()
    context.term()


def test_the_duplicator_class_copies_frames_to_every_output():
    inbound, outs = tcp(), [tcp(), tcp()]
    duplicator = zmq.Duplicator(inbound, outs)
    receivers = []
    for address in outs:
        receiver = ZmqSocket("PULL")
        receiver.connect(address)
        receivers.append(receiver)
    sender = ZmqSocket("PUSH")
    sender.connect(inbound)
    seen = []

    def stop():
        return len(seen) == 1

    # Outputs must be connected before the frame is forwarded (PUSH drops without a peer).
    time.sleep(0.3)
    sender.send(b"\x81\xa4type\xa1x")
    original_recv = duplicator._in_socket.recv

    class Counting:
        def recv(self):
            frame = original_recv()
            seen.append(frame)
            return frame

    duplicator._in_socket = Counting()
    duplicator._run(stop_func=stop)
    assert [r.recv() for r in receivers] == [b"\x81\xa4type\xa1x"] * 2


def test_socket_errors_are_value_and_os_errors():
    with pytest.raises(ValueError, match="not a ZeroMQ address"):
        ZmqSocket("PUSH").bind("127.0.0.1:1")
    with pytest.raises(ValueError, match="unsupported socket type"):
        ZmqSocket("PAIR")
    address = tcp()
    first = ZmqSocket("PULL")
    first.bind(address)
    with pytest.raises(OSError) as info:
        ZmqSocket("PULL").bind(address)
    assert info.value.errno == errno.EADDRINUSE
    assert f"cannot bind {address}" in str(info.value)
    first.close()
    with pytest.raises(OSError):
        first.recv()
    assert ZmqSocket("PUSH").send(b"x", nonblocking=True) is False

"""The ZeroMQ transport of distributed mode, with mite's classes and wire format.

Sockets are mite-rs's own (``mite._mite.ZmqSocket``, libzmq built into the native module), so
no pyzmq is needed. Every frame is one msgpack object (``mite.utils.pack_msg``). Blocking
calls release the GIL; the ``async`` methods run them in the loop's default executor, as mite
does. The ``mite`` commands themselves (``duplicator``, ``stats``, ...) run natively and do not
go through these classes.
"""

import asyncio
import logging
import sys

from ._mite import ZmqSocket
from .utils import pack_msg, unpack_msg

logger = logging.getLogger(__name__)

__all__ = ["ControllerServer", "Duplicator", "Receiver", "RunnerTransport", "Sender"]

_MSG_TYPE_HELLO = 1
_MSG_TYPE_REQUEST_WORK = 2
_MSG_TYPE_BYE = 3


async def _in_executor(function, *args):
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


class Duplicator:
    """Every frame from ``in_address`` (bound PULL) to each of ``out_addresses`` (bound PUSH);
    an output that cannot take a frame at once drops it, with an error logged."""

    def __init__(self, in_address, out_addresses, loop=None):
        self._in_socket = ZmqSocket("PULL")
        self._in_socket.bind(in_address)
        self._out_sockets = []
        for address in out_addresses:
            socket = ZmqSocket("PUSH")
            socket.bind(address)
            self._out_sockets.append((address, socket))
        self._debug_messages_to_dump = 0

    async def run(self, stop_func=None):
        return await _in_executor(self._run, stop_func)

    def _run(self, stop_func=None):
        while stop_func is None or not stop_func():
            frame = self._in_socket.recv()
            if self._debug_messages_to_dump > 0:
                sys.stdout.write(f"{unpack_msg(frame)}\n")
                self._debug_messages_to_dump -= 1
            for address, socket in self._out_sockets:
                if not socket.send(frame, nonblocking=True):
                    logger.error(
                        f"Duplicator message buffer full for address {address}; "
                        "error is 11: Resource temporarily unavailable"
                    )


class Sender:
    """A PUSH socket sending messages (dicts) as msgpack frames."""

    def __init__(self):
        self._socket = ZmqSocket("PUSH")

    def bind(self, address):
        self._socket.bind(address)
        logger.debug("sender bound to address: %s", address)

    def connect(self, address):
        self._socket.connect(address)
        logger.debug("sender connected to address: %s", address)

    def send(self, msg):
        self._socket.send(pack_msg(msg))


class Receiver:
    """A PULL socket handing each frame to the raw listeners (bytes), then, decoded, to the
    listeners (dicts)."""

    def __init__(self, listeners=None, raw_listeners=None, loop=None):
        self._socket = ZmqSocket("PULL")
        self._listeners = listeners or []
        self._raw_listeners = raw_listeners or []

    def bind(self, address):
        self._socket.bind(address)
        logger.debug("receiver bound to address: %s", address)

    def connect(self, address):
        self._socket.connect(address)
        logger.debug("receiver connected to address: %s", address)

    def add_listener(self, listener):
        self._listeners.append(listener)

    def add_raw_listener(self, listener):
        self._raw_listeners.append(listener)

    def _recv(self):
        return self._socket.recv()

    async def run(self, stop_func=None):
        return await _in_executor(self._run, stop_func)

    def _run(self, stop_func=None):
        while stop_func is None or not stop_func():
            raw = self._recv()
            for raw_listener in self._raw_listeners:
                raw_listener(raw)
            msg = unpack_msg(raw)
            for listener in self._listeners:
                listener(msg)


class RunnerTransport:
    """The runner's side of the controller exchange: a REQ socket connected to
    ``socket_address``; each call is one request and its reply."""

    def __init__(self, socket_address, loop=None):
        self._sock = ZmqSocket("REQ")
        self._sock.connect(socket_address)

    def _exchange(self, request):
        self._sock.send(pack_msg(request))
        return unpack_msg(self._sock.recv())

    def _hello(self):
        return self._exchange((_MSG_TYPE_HELLO, None))

    async def hello(self):
        return await _in_executor(self._hello)

    def _request_work(self, runner_id, current_work, completed_data_ids, max_work):
        content = [runner_id, current_work, completed_data_ids, max_work]
        return self._exchange((_MSG_TYPE_REQUEST_WORK, content))

    async def request_work(self, runner_id, current_work, completed_data_ids, max_work):
        logger.debug(
            f"Requesting work runner_id={runner_id} current_work={current_work} "
            f"completed_data_ids={completed_data_ids} max_work={max_work}"
        )
        return await _in_executor(
            self._request_work, runner_id, current_work, completed_data_ids, max_work
        )

    def _bye(self, runner_id):
        return self._exchange((_MSG_TYPE_BYE, runner_id))

    async def bye(self, runner_id):
        logger.debug("Saying bye")
        return await _in_executor(self._bye, runner_id)


class ControllerServer:
    """The controller's side: a REP socket bound to ``socket_address``, answering each
    request with the controller's ``hello``, ``request_work`` or ``bye``."""

    def __init__(self, socket_address, loop=None):
        self._sock = ZmqSocket("REP")
        self._sock.bind(socket_address)

    async def run(self, controller, stop_func=None):
        while stop_func is None or not stop_func():
            _type, content = unpack_msg(self._sock.recv())
            if _type == _MSG_TYPE_HELLO:
                reply = controller.hello()
            elif _type == _MSG_TYPE_REQUEST_WORK:
                reply = await controller.request_work(*content)
            elif _type == _MSG_TYPE_BYE:
                reply = controller.bye(content)
            else:
                raise ValueError(f"something weird happened! _type is {_type}")
            self._sock.send(pack_msg(reply))
            # Let the other coroutines (the controller's reports) run between requests.
            await asyncio.sleep(0)

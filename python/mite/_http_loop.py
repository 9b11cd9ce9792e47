"""An asyncio event loop that does mite_http's work on its own thread.

With one CPU to run on, handing each batch of requests to an HTTP thread and taking the
responses back only adds context switches. This loop's selector runs the Rust HTTP runtime
while the loop would otherwise wait in ``epoll_wait``, so requests, responses and journeys
all run on one thread, in turn. ``mite`` uses it when the process may use a single CPU or
``MITE_HTTP_THREADS=0`` (see docs/differences.md).
"""

import asyncio
import selectors

from mite._mite import HttpWaiter


class HttpSelector(selectors.EpollSelector):
    """An epoll selector whose waiting is done by the HTTP runtime."""

    # Read by the native HTTP driver: requests from this loop go to its own runtime.
    mite_drives_http = True

    def __init__(self):
        super().__init__()
        self._waiter = HttpWaiter(self._selector.fileno())

    def select(self, timeout=None):
        self._waiter.wait(timeout)
        return super().select(0)

    def close(self):
        self._waiter.close()
        super().close()


def new_event_loop():
    """A selector event loop whose thread does its own HTTP work."""
    return asyncio.SelectorEventLoop(HttpSelector())

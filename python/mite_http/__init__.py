"""HTTP for journeys: ``@mite_http`` gives the journey ``ctx.http``, a session on mite-rs's
Rust HTTP engine (one keep-alive connection pool per runner, a cookie jar per session).

    @mite_http
    async def journey(ctx):
        async with ctx.transaction("Log in"):
            resp = await ctx.http.post(url, json={"username": "u", "password": "p"})

Every response (redirect hops included) is reported as an ``http_metrics`` message.
"""

import asyncio.coroutines
import functools
from collections.abc import Mapping

from mite._mite import HttpJourney, http_loops
from mite._mite import HttpSession as Session
from mite_http.cookies import Cookie
from mite_http.exceptions import AcurlError, HttpError, RequestError
from mite_http.headers import Headers

__all__ = [
    "AcurlError",
    "AcurlSessionWrapper",
    "Cookie",
    "Headers",
    "HttpError",
    "RequestError",
    "Session",
    "SessionPool",
    "create_http_cookie",
    "mite_http",
]

# mite's name for the object behind ``ctx.http``.
AcurlSessionWrapper = Session


def mite_http(func):
    """Gives each call of the journey a fresh HTTP session as ``ctx.http``.

    As in mite, ``ctx.http`` is removed when the journey returns and left in place when it
    raises. The wrapper is native (no Python frame of its own per call); it carries the
    journey's name, docstring and ``__wrapped__`` like a ``functools.wraps`` wrapper.
    """
    wrapper = functools.update_wrapper(HttpJourney(func), func)
    # asyncio.iscoroutinefunction(wrapper) is True, as for mite's `async def` wrapper.
    marker = getattr(asyncio.coroutines, "_is_coroutine", None)
    if marker is not None:
        wrapper._is_coroutine = marker
    return wrapper


class _SessionPools(Mapping):
    """mite's per-event-loop session pools, as mite-rs has them: the loops of this thread
    whose requests have an HTTP driver (their completion queue, on the shared connection
    pool). A loop gets one with its first request, or when an ``@mite_http`` journey starts
    on it with a context of its own (not a runner's)."""

    def __getitem__(self, loop):
        for known in http_loops():
            if known is loop:
                return SessionPool(loop)
        raise KeyError(loop)

    def __iter__(self):
        return iter(http_loops())

    def __len__(self):
        return len(http_loops())


class SessionPool:
    """mite's API for the decorator; sessions share the runner's connection pool.
    ``SessionPool._session_pools`` maps each event loop with HTTP to its pool."""

    _session_pools = _SessionPools()

    def __init__(self, loop=None):
        self.loop = loop

    @classmethod
    def decorator(cls, func):
        return mite_http(func)


def create_http_cookie(ctx, *args, **kwargs):
    """A cookie for ``cookies=``: ``create_http_cookie(ctx, domain, name, value)``."""
    return Cookie(*args, **kwargs)

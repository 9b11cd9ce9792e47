"""Running a journey by hand, as mite's ``mite.test`` offers it to unit tests of journeys.

``run_single_journey(config, journey, datapool=None)`` runs a journey once on a fresh context
(with the datapool's first item as its arguments) and returns what it returned, as a dict,
with the messages it sent under ``"messages"``. ``http_spy(journey)`` wraps a journey so that
each response of ``ctx.http.get/post/put/patch/delete`` it awaits is kept, by method: the
wrapped journey returns ``{"http": {"get": [response, ...], ...}}``.
"""

from collections import defaultdict

from .context import Context

__all__ = ["http_spy", "run_single_journey"]

_SPIED_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})


class _RecordingHttp:
    """Stands in for ``ctx.http``: each request goes to the journey's real session, and its
    response is kept under the method's name."""

    def __init__(self, session, responses):
        self._session = session
        self._responses = responses

    def __getattr__(self, name):
        attribute = getattr(self._session, name)
        if name not in _SPIED_METHODS:
            return attribute

        async def request(*args, **kwargs):
            response = await attribute(*args, **kwargs)
            self._responses[name].append(response)
            return response

        return request


class _SpiedContext:
    """A journey's context whose ``http`` records; everything else is the context's own.

    ``@mite_http`` sets ``ctx.http`` when the journey starts and deletes it at the end; on
    this object that session is kept aside and handed out wrapped."""

    def __init__(self, ctx, responses):
        object.__setattr__(self, "_ctx", ctx)
        object.__setattr__(self, "_responses", responses)
        object.__setattr__(self, "_session", None)

    def __getattr__(self, name):
        if name == "http":
            session = object.__getattribute__(self, "_session")
            if session is None:
                return self._ctx.http  # raises as the context does without a session
            return _RecordingHttp(session, self._responses)
        return getattr(self._ctx, name)

    def __setattr__(self, name, value):
        if name == "http":
            object.__setattr__(self, "_session", value)
        else:
            setattr(self._ctx, name, value)

    def __delattr__(self, name):
        if name == "http":
            object.__setattr__(self, "_session", None)
        else:
            delattr(self._ctx, name)


def http_spy(journey):
    """``journey`` (usually an ``@mite_http`` one) wrapped to return the responses of the
    requests it made, by method."""

    async def spied(ctx, *args):
        responses = defaultdict(list)
        await journey(_SpiedContext(ctx, responses), *args)
        return {"http": responses}

    return spied


async def run_single_journey(config, journey, datapool=None):
    """Runs ``journey`` once on a new context with ``config``; see the module's doc."""
    messages = []

    def keep(message, **kwargs):
        messages.append((message, kwargs))

    ctx = Context(keep, config)
    args = ()
    if datapool is not None:
        item = await datapool.checkout()
        args = item.data
    result = await journey(ctx, *args)
    if result is None:
        result = {}
    result["messages"] = messages
    return result

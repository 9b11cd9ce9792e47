"""Errors of ``ctx.http`` requests."""


class HttpError(Exception):
    """A request got no response: DNS, connection, TLS, timeout or protocol failure.

    The message names the method, the URL and the cause.
    """


# mite's (acurl's) name for transport failures.
AcurlError = HttpError


class RequestError(HttpError):
    """The request itself was refused, e.g. still redirecting after ``max_redirects``."""

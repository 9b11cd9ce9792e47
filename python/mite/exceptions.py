"""Exceptions that journeys raise and that mite-rs raises back into Python.

Both keep mite's import paths and class names so that users' ``except`` clauses and the
module-qualified ``message`` field of error messages (``mite.exceptions.MiteError: ...``) stay
the same.
"""


class MiteError(Exception):
    """An expected failure in a journey, reported as an ``error`` message.

    ``message`` becomes ``str(error)``; every keyword argument is kept in ``fields`` and is
    copied into the ``error`` message, e.g. ``MiteError("login failed", status=500)``.
    """

    def __init__(self, message, **fields):
        super().__init__(message)
        self.fields = fields


class DataPoolExhausted(BaseException):
    """Raised by a data pool's ``checkout`` when it has no more items.

    It derives from ``BaseException`` so that a journey's ``except Exception`` and the
    transaction error reporting never mistake it for a journey failure; the scenario manager
    catches it and removes the scenario.
    """


__all__ = ["DataPoolExhausted", "MiteError"]

"""The journey context (`ctx`): messages, transactions and configuration."""

from contextvars import ContextVar

# (full transaction name, transaction id) of the innermost active transaction of the current
# asyncio task; the native Context reads and sets it.
active_transaction: ContextVar = ContextVar("active_transaction")

from mite._mite import Context  # noqa: E402

__all__ = ["Context", "active_transaction"]

"""Type stubs for the native core of mite-rs (``mite._mite``)."""

import os
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from contextvars import Context as ContextvarsContext
from typing import Any, TypeVar, final

from typing_extensions import disjoint_base

_T = TypeVar("_T")

__all__ = [
    "BUILD_PROFILE",
    "Ready",
    "Context",
    "Transaction",
    "MessageSink",
    "RecyclableIterableDataPool",
    "IterableDataPool",
    "SingleRunDataPool",
    "JourneyTask",
    "NativeFuture",
    "Runner",
    "TaskDone",
    "FixedVolume",
    "ScenarioSchedule",
    "ConfigVersions",
    "HttpSession",
    "HttpJourney",
    "HttpCall",
    "Response",
    "Request",
    "HttpWaiter",
    "Recorder",
    "Collector",
    "ZmqSocket",
    "cli_main",
    "http_on_loop_thread",
    "http_loops",
    "NativeStats",
    "ExporterFeed",
]

BUILD_PROFILE: str
"""``"release"`` or ``"debug"``: how the native core was compiled."""

@final
class Ready(Awaitable[_T]):
    """An awaitable that is already complete."""

    def __await__(self) -> Generator[Any, None, _T]: ...
    def __iter__(self) -> Ready[_T]: ...
    def __next__(self) -> Any: ...
    def send(self, _value: Any) -> Any: ...
    def throw(self, error: BaseException, *rest: Any) -> Any: ...
    def close(self) -> None: ...

@final
class MessageSink:
    """The runner's native send function: ``sink(msg)`` / ``sink.send(msg)``."""

    def __call__(self, msg: dict[str, Any]) -> None: ...
    def send(self, msg: dict[str, Any]) -> None: ...

@final
class Context:
    """The journey context (``ctx``); takes arbitrary attributes."""

    def __new__(
        cls,
        send_fn: Callable[[dict[str, Any]], Any],
        config: Any,
        id_data: Mapping[str, Any] | None = None,
        should_stop_func: Callable[[], bool] | None = None,
        debug: bool = False,
    ) -> Context: ...
    @property
    def config(self) -> Any: ...
    @property
    def _active_transaction(self) -> tuple[str | None, int | None]: ...
    @property
    def should_stop(self) -> bool: ...
    # The journey's HTTP session while an ``@mite_http`` journey runs (AttributeError else).
    http: Any
    def send(self, type: str, **fields: Any) -> Ready[None]: ...
    def transaction(self, name: str) -> Transaction: ...
    def __getattr__(self, name: str) -> Any: ...

@final
class Transaction:
    """``async with ctx.transaction(name):``"""

    async def __aenter__(self) -> None: ...
    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None: ...

@disjoint_base
class RecyclableIterableDataPool:
    def __init__(self, iterable: Iterable[Any]) -> None: ...
    def checkout(self, config: Any = None) -> Ready[Any]: ...
    def checkin(self, item_id: int) -> Ready[None]: ...

@disjoint_base
class IterableDataPool:
    def __init__(self, iterable: Iterable[Any]) -> None: ...
    def checkout(self, config: Any = None) -> Ready[Any]: ...
    def checkin(self, item_id: Any) -> Ready[None]: ...

@disjoint_base
class SingleRunDataPool:
    has_ran: bool
    data_item: Any
    def __init__(self, data_item: Any) -> None: ...
    def checkout(self, config: Any = None) -> Ready[Any]: ...
    def checkin(self, item_id: Any) -> Ready[None]: ...

@final
class JourneyTask:
    """A journey driven by the Rust coroutine driver; asyncio's current task while it runs."""

    def cancel(self, msg: Any = None) -> bool: ...
    def cancelling(self) -> int: ...
    def uncancel(self) -> int: ...
    def done(self) -> bool: ...
    def cancelled(self) -> bool: ...
    def result(self) -> Any: ...
    def exception(self) -> BaseException | None: ...
    def add_done_callback(
        self, callback: Callable[[JourneyTask], Any], *, context: ContextvarsContext | None = None
    ) -> None: ...
    def remove_done_callback(self, callback: Callable[[JourneyTask], Any]) -> int: ...
    def get_name(self) -> str: ...
    def set_name(self, value: Any) -> None: ...
    def get_coro(self) -> Any: ...
    def get_loop(self) -> Any: ...
    def get_context(self) -> ContextvarsContext: ...
    def __call__(self, *args: Any) -> None:
        """Resumes the task: asyncio calls it as the done callback of what it awaits."""

@final
class NativeFuture(Awaitable[_T]):
    """A future resolved from Rust; speaks asyncio's future protocol."""

    _asyncio_future_blocking: bool
    def __await__(self) -> Generator[Any, None, _T]: ...
    def __iter__(self) -> NativeFuture[_T]: ...
    def __next__(self) -> Any: ...
    def send(self, _value: Any) -> Any: ...
    def throw(self, error: BaseException, *_rest: Any) -> Any: ...
    def close(self) -> None: ...
    def get_loop(self) -> Any: ...
    def done(self) -> bool: ...
    def cancelled(self) -> bool: ...
    def result(self) -> _T: ...
    def exception(self) -> BaseException | None: ...
    def cancel(self, msg: Any = None) -> bool: ...
    def add_done_callback(
        self,
        callback: Callable[[NativeFuture[_T]], Any],
        *,
        context: ContextvarsContext | None = None,
    ) -> None: ...
    def remove_done_callback(self, callback: Callable[[NativeFuture[_T]], Any]) -> int: ...

@final
class Runner:
    """The in-process runner of one test (made by the command line, not from Python)."""

@final
class TaskDone:
    """Done callback of a plain asyncio Task running a journey (``--asyncio-tasks``)."""

    def __call__(self, task: Any) -> None: ...

@final
class FixedVolume:
    def __call__(self, start: int, end: int) -> int: ...

@final
class ConfigVersions:
    def __new__(cls) -> ConfigVersions: ...
    @property
    def version(self) -> int: ...
    def set(self, name: str, value: object) -> None: ...
    def get(self, name: str, default: object | None = None) -> Any: ...
    def changes_since(self, seen: int) -> list[tuple[str, Any]]: ...
    def entries(self) -> dict[str, tuple[Any, int]]: ...

@final
class ScenarioSchedule:
    def __new__(
        cls, start_delay: float = 0.0, period: float = 1.0, spawn_rate: float | None = None
    ) -> ScenarioSchedule: ...
    def add_scenario(self, volume_model: Callable[[int, int], object]) -> int: ...
    def refresh(self) -> list[int]: ...
    def evaluate(self, start: int, end: int) -> list[int]: ...
    def set_required(self, required: dict[int, int]) -> None: ...
    def required(self) -> dict[int, int]: ...
    def plan(self, current_work: dict[int, int], cap: int) -> list[int]: ...
    def exhaust(self, scenario_id: int) -> bool: ...
    def is_active(self) -> bool: ...

@final
class Request:
    @property
    def method(self) -> bytes: ...
    @property
    def url(self) -> str: ...
    @property
    def headers(self) -> dict[str, str]: ...
    @property
    def cookies(self) -> dict[str, str]: ...
    @property
    def auth(self) -> tuple[str, str] | None: ...
    @property
    def data(self) -> bytes | None: ...
    @property
    def cert(self) -> tuple[str, str] | None: ...
    def to_curl(self) -> str: ...

@final
class Response:
    status_code: int
    response_code: int
    url: str
    redirect_url: str | None
    headers: dict[str, str]
    headers_tuple: tuple[tuple[str, str], ...]
    header: str
    body: bytes
    content: bytes
    encoding: str
    text: str
    cookies: dict[str, str]
    history: list[Response]
    request: Request
    start_time: int
    namelookup_time: float
    connect_time: float
    appconnect_time: float
    pretransfer_time: float
    starttransfer_time: float
    total_time: float
    download_size: float
    upload_size: float
    primary_ip: str
    http_version: str
    def json(self) -> Any: ...

@final
class HttpSession:
    """``ctx.http``."""

    additional_metrics: dict[str, Any]
    def __new__(cls, ctx: Any) -> HttpSession: ...
    def set_response_callback(
        self, cb: Callable[[Response, dict[str, Any]], Any] | None
    ) -> None: ...
    def cookies(self) -> dict[str, str]: ...
    def erase_all_cookies(self) -> None: ...
    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        cookies: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        data: bytes | str | Mapping[str, Any] | None = None,
        json: Any = None,
        cert: tuple[str, str] | None = None,
        allow_redirects: bool = True,
        max_redirects: int = 5,
        timeout: float | None = None,
        verify: bool | str | os.PathLike[str] | None = None,
        proxy: str | None = None,
    ) -> NativeFuture[Response]: ...
    def post(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        cookies: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        data: bytes | str | Mapping[str, Any] | None = None,
        json: Any = None,
        cert: tuple[str, str] | None = None,
        allow_redirects: bool = True,
        max_redirects: int = 5,
        timeout: float | None = None,
        verify: bool | str | os.PathLike[str] | None = None,
        proxy: str | None = None,
    ) -> NativeFuture[Response]: ...
    def put(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        cookies: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        data: bytes | str | Mapping[str, Any] | None = None,
        json: Any = None,
        cert: tuple[str, str] | None = None,
        allow_redirects: bool = True,
        max_redirects: int = 5,
        timeout: float | None = None,
        verify: bool | str | os.PathLike[str] | None = None,
        proxy: str | None = None,
    ) -> NativeFuture[Response]: ...
    def patch(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        cookies: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        data: bytes | str | Mapping[str, Any] | None = None,
        json: Any = None,
        cert: tuple[str, str] | None = None,
        allow_redirects: bool = True,
        max_redirects: int = 5,
        timeout: float | None = None,
        verify: bool | str | os.PathLike[str] | None = None,
        proxy: str | None = None,
    ) -> NativeFuture[Response]: ...
    def delete(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        cookies: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        data: bytes | str | Mapping[str, Any] | None = None,
        json: Any = None,
        cert: tuple[str, str] | None = None,
        allow_redirects: bool = True,
        max_redirects: int = 5,
        timeout: float | None = None,
        verify: bool | str | os.PathLike[str] | None = None,
        proxy: str | None = None,
    ) -> NativeFuture[Response]: ...
    def head(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        cookies: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        data: bytes | str | Mapping[str, Any] | None = None,
        json: Any = None,
        cert: tuple[str, str] | None = None,
        allow_redirects: bool = True,
        max_redirects: int = 5,
        timeout: float | None = None,
        verify: bool | str | os.PathLike[str] | None = None,
        proxy: str | None = None,
    ) -> NativeFuture[Response]: ...
    def options(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        cookies: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        data: bytes | str | Mapping[str, Any] | None = None,
        json: Any = None,
        cert: tuple[str, str] | None = None,
        allow_redirects: bool = True,
        max_redirects: int = 5,
        timeout: float | None = None,
        verify: bool | str | os.PathLike[str] | None = None,
        proxy: str | None = None,
    ) -> NativeFuture[Response]: ...

def cli_main(argv: list[str]) -> int:
    """Runs the ``mite`` command line; returns the exit code."""

@final
class HttpWaiter:
    """Waits for an event loop's selector while running this thread's HTTP work."""

    def __new__(cls, fd: int) -> HttpWaiter: ...
    def wait(self, timeout: float | None = None) -> None: ...
    def close(self) -> None: ...

def http_on_loop_thread() -> bool:
    """Whether test runs do their HTTP work on the event loop's thread."""

@final
class HttpJourney:
    """An ``@mite_http`` journey: calling it gives an :class:`HttpCall`."""

    def __new__(cls, func: Callable[..., Any]) -> HttpJourney: ...
    def __call__(self, *args: Any, **kwargs: Any) -> HttpCall: ...

@final
class HttpCall:
    """One call of an ``@mite_http`` journey, awaited (or driven) like its coroutine."""

    def __await__(self) -> Generator[Any, None, Any]: ...
    def __iter__(self) -> HttpCall: ...
    def __next__(self) -> Any: ...
    def send(self, value: Any) -> Any: ...
    def throw(self, error: BaseException, *_rest: Any) -> Any: ...
    def close(self) -> None: ...

@final
class Recorder:
    """Appends ``data_created`` data to ``<target_dir>/<name>.msgpack``.

    A ``purge_data`` message deletes the file.
    """

    def __new__(cls, target_dir: str | None = None) -> Recorder: ...
    def process_message(self, msg: dict[str, Any]) -> None: ...

@final
class Collector:
    """Writes raw messages to ``current``, rolled every ``roll_after`` messages."""

    def __new__(
        cls,
        target_dir: str | None = None,
        roll_after: int = 100000,
        collector_id: str | None = None,
        filter_fn: Callable[[bytes], bool] | None = None,
        use_json: bool = False,
    ) -> Collector: ...
    def process_raw_message(self, raw: bytes) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...

@final
class ZmqSocket:
    """A ZeroMQ socket of kind ``"PUSH"``, ``"PULL"``, ``"REQ"`` or ``"REP"``; one frame per
    ``send``/``recv``. Blocking calls release the GIL; Ctrl-C interrupts them."""

    def __new__(cls, kind: str) -> ZmqSocket: ...
    def bind(self, address: str) -> None: ...
    def connect(self, address: str) -> None: ...
    def send(self, data: bytes, nonblocking: bool = False) -> bool: ...
    def recv(self) -> bytes: ...
    def close(self) -> None: ...
    @property
    def kind(self) -> str: ...

def http_loops() -> list[Any]:
    """The open event loops of this thread that have an HTTP driver."""

@final
class NativeStats:
    """The built-in ``mite`` and ``mite_http`` stats as the Rust core counts them, with an
    exporter of their own."""

    def __new__(cls) -> NativeStats: ...
    def process_message(self, msg: dict[str, Any]) -> None: ...
    def prometheus_text(self) -> str: ...
    def add_dumps(self, dumps: list[dict[str, Any]]) -> None: ...

@final
class ExporterFeed:
    """Adds a list of stat dumps to a run's Prometheus exporter."""

    def __call__(self, dumps: Iterable[dict[str, Any]]) -> None: ...

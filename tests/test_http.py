"""`mite_http`: journeys' HTTP requests against real servers on 127.0.0.1.

A small threaded `http.server` (plain, and wrapped in TLS with tests/data/selfsigned.crt)
records every request it gets, so tests assert on what went over the wire.

Two ways in:
- in-process: `asyncio.run` a `@mite_http` journey on a `Context(send_fn=list.append)`; the
  `http_metrics` go through the Python send path.
- end to end: `python -m mite scenario test` in a temporary project; the `http_metrics` are
  built on the native path and read back from the collector file.
"""

import asyncio
import base64
import contextvars
import gc
import gzip
import hashlib
import json
import re
import resource
import shlex
import socket
import ssl
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import msgpack
import pytest

import mite._http_loop
from mite import Context
from mite._mite import http_on_loop_thread
from mite_http import (
    Cookie,
    Headers,
    HttpError,
    RequestError,
    SessionPool,
    create_http_cookie,
    mite_http,
)

DATA = Path(__file__).parent / "data"
CERTFILE = DATA / "selfsigned.crt"
KEYFILE = DATA / "selfsigned.key"

HTTP_METRICS_FIELDS = [
    "start_time",
    "effective_url",
    "response_code",
    "dns_time",
    "connect_time",
    "tls_time",
    "transfer_start_time",
    "first_byte_time",
    "total_time",
    "primary_ip",
    "method",
    "download_size",
]
PHASE_TIMES = ["dns_time", "connect_time", "tls_time", "transfer_start_time", "first_byte_time"]
IN_PROCESS_ENVELOPE = ["type", "time", "transaction", "transaction_id"]
RUNNER_ENVELOPE = [
    "type",
    "time",
    "test",
    "runner_id",
    "journey",
    "context_id",
    "scenario_id",
    "scenario_data_id",
    "transaction",
    "transaction_id",
]

BIG_BODY = hashlib.sha256(b"mite").digest() * (5 * 1024 * 1024 // 32)  # 5 MiB, not repetitive
GZIP_TEXT = b"squeezed " * 1000
SLOW_SECONDS = 5
JOURNEY_TIMEOUT = 5
# A runaway request loop in the native layer can eat all memory in seconds; capping this
# module's address space (inherited by the CLI subprocesses) turns that into a failed test.
ADDRESS_SPACE_CAP = 3 * 1024**3


def sha(data):
    return hashlib.sha256(data).hexdigest()


# --- The test server --------------------------------------------------------------------------


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: Message
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    """Routes on the first path segment; every request is recorded in `server.requests`."""

    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse can be observed

    def log_message(self, *args):
        pass

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()  # the empty trailer section
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size + 2)[:size])
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def _reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        body = self._read_body()
        self.server.requests.append(Seen(self.command, self.path, self.headers, body))
        url = urlsplit(self.path)
        query = parse_qsl(url.query)
        segments = url.path.strip("/").split("/")
        route, args = segments[0], segments[1:]

        if route == "echo":
            self._reply(200, b"ok", [("Content-Type", "text/plain; charset=utf-8")])
        elif route == "status":
            self._reply(int(args[0]), b"status")
        elif route == "redirect":
            self._reply(int(args[0]), headers=[("Location", dict(query)["to"])])
        elif route == "hop":
            left = int(args[0])
            if left:
                self._reply(302, headers=[("Location", f"/hop/{left - 1}")])
            else:
                self._reply(200, b"arrived")
        elif route == "loop":
            self._reply(302, headers=[("Location", "/loop")])
        elif route == "set-cookie":
            self._reply(200, headers=[("Set-Cookie", f"{k}={v}; Path=/") for k, v in query])
        elif route == "slow":
            self.server.stopping.wait(SLOW_SECONDS)
            self._reply(200, b"late")
        elif route == "big":
            self._reply(200, BIG_BODY, [("Content-Type", "application/octet-stream")])
        elif route == "gzip":
            compressed = gzip.compress(GZIP_TEXT)
            self._reply(200, compressed, [("Content-Encoding", "gzip")])
        elif route == "latin1":
            self._reply(200, "café".encode("latin-1"), [("Content-Type", "text/plain")])
        elif route == "utf8":
            self._reply(200, "café".encode(), [("Content-Type", "text/plain; charset=utf-8")])
        elif route == "json":
            self._reply(200, b'{"hello": ["world", 1]}', [("Content-Type", "application/json")])
        elif route == "repeated":
            self._reply(200, b"", [("X-Multi", "a"), ("X-Multi", "b"), ("X-Single", "c")])
        else:
            self._reply(404, b"no such route")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, tls_context=None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tls_context = tls_context
        self.requests = []
        self.stopping = threading.Event()
        scheme = "https" if tls_context else "http"
        self.base = f"{scheme}://127.0.0.1:{self.server_port}"

    def finish_request(self, request, client_address):
        # The TLS handshake happens here, in the connection's own thread, so a client that
        # rejects the certificate cannot stall the accept loop.
        if self.tls_context is not None:
            request.settimeout(5)
            try:
                request = self.tls_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
            request.settimeout(None)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass  # clients that time out or reject the certificate are part of the tests

    def seen(self, path_prefix):
        return [r for r in self.requests if r.path.startswith(path_prefix)]


@contextmanager
def running_server(tls=False):
    context = None
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(CERTFILE, KEYFILE)
    server = _Server(context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module", autouse=True)
def _address_space_cap():
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = ADDRESS_SPACE_CAP if hard == resource.RLIM_INFINITY else min(ADDRESS_SPACE_CAP, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.fixture(scope="module")
def _shared_http_server():
    with running_server() as server:
        yield server


@pytest.fixture(scope="module")
def _shared_https_server():
    with running_server(tls=True) as server:
        yield server


@pytest.fixture
def server(_shared_http_server):
    """The module's plain HTTP server, with its request log emptied for this test."""
    _shared_http_server.requests.clear()
    return _shared_http_server


@pytest.fixture
def tls_server(_shared_https_server):
    _shared_https_server.requests.clear()
    return _shared_https_server


@pytest.fixture
def fresh_server():
    """A server no connection has been made to yet (sessions share pooled connections)."""
    with running_server() as server:
        yield server


@pytest.fixture
def fresh_tls_server():
    with running_server(tls=True) as server:
        yield server


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return port


# --- In-process journeys ----------------------------------------------------------------------


def make_context():
    messages = []
    return Context(send_fn=messages.append, config={}), messages


def http_metrics(messages):
    return [m for m in messages if m["type"] == "http_metrics"]


def new_event_loop():
    """The kind of loop `mite` itself runs tests on here: with `MITE_HTTP_THREADS=0` (or one
    CPU) one whose thread does its own HTTP work, else a plain one handing requests to the
    HTTP thread. `make test` runs this module both ways."""
    if http_on_loop_thread():
        return mite._http_loop.new_event_loop()
    return asyncio.new_event_loop()


def run_loop(coroutine):
    """Runs `coroutine` to completion on a new event loop, like `asyncio.run`.

    A watchdog stops the loop after JOURNEY_TIMEOUT seconds, so a journey that never finishes
    fails its test instead of hanging the run. The loop runs on this (the main) thread: the
    native HTTP layer keeps per-thread state.
    """
    loop = new_event_loop()
    task = loop.create_task(coroutine)
    watchdog = threading.Timer(JOURNEY_TIMEOUT, loop.call_soon_threadsafe, args=(loop.stop,))
    watchdog.start()
    try:
        try:
            return loop.run_until_complete(task)
        except RuntimeError:
            if task.done():
                raise
            pytest.fail(f"the journey did not finish within {JOURNEY_TIMEOUT} s")
    finally:
        watchdog.cancel()
        if task.done():
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def run_http(journey):
    """Runs `journey(ctx)` under `@mite_http` on a fresh context and event loop.

    Returns what the journey returned and the `http_metrics` messages sent.
    """
    ctx, messages = make_context()
    result = run_loop(mite_http(journey)(ctx))
    return result, http_metrics(messages)


def get(url, **kwargs):
    """A one-request journey."""

    async def journey(ctx):
        return await ctx.http.get(url, **kwargs)

    return run_http(journey)


def request(method, url, **kwargs):
    async def journey(ctx):
        return await getattr(ctx.http, method)(url, **kwargs)

    return run_http(journey)


# Methods and bodies


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
def test_each_method_reaches_the_server_as_its_upper_case_verb_with_the_body(server, method):
    response, _ = request(method, f"{server.base}/echo", data=f"payload of {method}".encode())

    assert response.status_code == 200
    [seen] = server.requests
    assert seen.method == method.upper()
    assert seen.body == f"payload of {method}".encode()


def test_head_reaches_the_server_and_returns_no_body(server):
    response, _ = request("head", f"{server.base}/echo")

    assert response.status_code == 200
    assert response.body == b""
    assert response.headers["content-length"] == "2"
    assert [r.method for r in server.requests] == ["HEAD"]


def test_request_records_the_method_as_bytes_and_what_was_sent(server):
    response, _ = request(
        "post", f"{server.base}/echo?q=1", headers={"X-Trace": "t1"}, data="a=1", auth=("u", "p")
    )

    sent = response.request
    assert sent.method == b"POST"
    assert sent.url == f"{server.base}/echo?q=1"
    assert sent.headers["X-Trace"] == "t1"
    assert sent.auth == ("u", "p")
    assert sent.data == b"a=1"


def test_request_to_curl_is_a_shell_quoted_curl_command_for_the_url(server):
    response, _ = request("post", f"{server.base}/echo?a=1&b=2", data="x y")

    words = shlex.split(response.request.to_curl())
    assert words[:3] == ["curl", "-X", "POST"]
    data_option = next(w for w in words if w in ("-d", "--data", "--data-binary"))
    assert words[words.index(data_option) + 1] == "x y"
    assert words[-1] == f"{server.base}/echo?a=1&b=2"


def test_json_is_encoded_like_json_dumps_with_an_application_json_content_type(server):
    payload = {"name": "Zoë", "items": [1, 2.5, None, True], "nested": {"k": "v"}}

    request("post", f"{server.base}/echo", json=payload)

    [seen] = server.requests
    assert seen.body == json.dumps(payload).encode()
    assert seen.headers.get_all("Content-Type") == ["application/json"]


def test_json_keeps_a_content_type_header_given_by_the_caller(server):
    request(
        "put", f"{server.base}/echo", json=[1], headers={"Content-Type": "application/vnd.x+json"}
    )

    [seen] = server.requests
    assert seen.headers.get_all("Content-Type") == ["application/vnd.x+json"]
    assert seen.body == b"[1]"


def test_str_data_is_sent_utf8_encoded_as_a_form(server):
    request("post", f"{server.base}/echo", data="name=Zoë&x=1")

    [seen] = server.requests
    assert seen.body == "name=Zoë&x=1".encode()
    assert seen.headers.get_all("Content-Type") == ["application/x-www-form-urlencoded"]


def test_bytes_data_is_sent_unchanged(server):
    body = bytes(range(256))

    request("post", f"{server.base}/echo", data=body)

    [seen] = server.requests
    assert seen.body == body
    assert seen.headers["Content-Length"] == "256"


def test_data_keeps_a_content_type_header_given_by_the_caller(server):
    request("post", f"{server.base}/echo", data="<a/>", headers={"Content-Type": "text/xml"})

    [seen] = server.requests
    assert seen.headers.get_all("Content-Type") == ["text/xml"]


def test_a_large_request_body_arrives_intact(server):
    request("post", f"{server.base}/echo", data=BIG_BODY)

    [seen] = server.requests
    assert len(seen.body) == len(BIG_BODY)
    assert sha(seen.body) == sha(BIG_BODY)


# Headers and auth


def test_headers_given_as_a_mapping_are_sent(server):
    request("get", f"{server.base}/echo", headers={"X-One": "1", "X-Two": "two words"})

    [seen] = server.requests
    assert seen.headers["X-One"] == "1"
    assert seen.headers["X-Two"] == "two words"


def test_headers_given_as_a_list_of_pairs_are_sent(server):
    request("get", f"{server.base}/echo", headers=[("X-One", "1"), ("X-Two", "2")])

    [seen] = server.requests
    assert seen.headers["X-One"] == "1"
    assert seen.headers["X-Two"] == "2"


def test_requests_send_host_and_accept_and_no_user_agent(server):
    request("get", f"{server.base}/echo")

    [seen] = server.requests
    assert seen.headers["Host"] == server.base.removeprefix("http://")
    assert seen.headers["Accept"] == "*/*"
    assert "User-Agent" not in seen.headers


def test_requests_advertise_gzip_in_accept_encoding(server):
    request("get", f"{server.base}/echo")

    [seen] = server.requests
    encodings = [e.strip() for e in seen.headers["Accept-Encoding"].split(",")]
    assert "gzip" in encodings


def test_auth_is_sent_as_http_basic(server):
    request("get", f"{server.base}/echo", auth=("alice", "s3cret:x"))

    [seen] = server.requests
    assert seen.headers["Authorization"] == "Basic " + base64.b64encode(b"alice:s3cret:x").decode()


# Invalid arguments


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": b"http://127.0.0.1/"}, "url must be a string"),
        ({"auth": ("user",)}, "auth must be a 2-tuple of strings but it was: ('user',)"),
        ({"auth": ("user", 1)}, "auth must be a 2-tuple of strings but it was: ('user', 1)"),
        ({"data": 12}, "data must be str or bytes"),
        ({"data": "a", "json": {}}, "use only one or none of data or json"),
        ({"cert": ("key",)}, "cert must be a 2-tuple of strings but it was: ('key',)"),
        ({"cookies": {"a": 1}}, "cookie value must be string or Cookie class"),
    ],
    ids=["url", "auth-short", "auth-not-str", "data", "data-and-json", "cert", "cookie"],
)
def test_invalid_arguments_raise_value_error_with_mites_message(server, kwargs, message):
    kwargs = {"url": f"{server.base}/echo", **kwargs}

    async def journey(ctx):
        with pytest.raises(ValueError) as caught:
            await ctx.http.post(**kwargs)
        return caught.value

    error, metrics = run_http(journey)

    assert str(error) == message
    assert metrics == []
    assert server.requests == []


# Responses


def test_response_headers_are_case_insensitive_and_repeated_ones_joined(server):
    response, _ = get(f"{server.base}/repeated")

    assert isinstance(response.headers, Headers)
    assert response.headers["x-multi"] == "a, b"
    assert response.headers["X-Single"] == "c"
    assert "X-SINGLE" in response.headers
    assert "x-single" in response.headers.keys()


def test_raw_header_and_headers_tuple_keep_order_with_lower_case_names(server):
    # Deliberate difference (docs/differences.md): names come lower-case, as hyper gives them.
    response, _ = get(f"{server.base}/repeated")

    assert response.header.startswith("HTTP/1.1 200\r\n")
    assert response.header.endswith("\r\n\r\n")
    assert "\r\nx-multi: a\r\nx-multi: b\r\nx-single: c\r\n" in response.header
    assert response.headers_tuple[-4:] == (
        ("x-multi", "a"),
        ("x-multi", "b"),
        ("x-single", "c"),
        ("content-length", "0"),
    )


def test_response_json_parses_the_body(server):
    response, _ = get(f"{server.base}/json")

    assert response.json() == {"hello": ["world", 1]}


def test_response_content_is_the_body(server):
    response, _ = get(f"{server.base}/echo")

    assert response.body == b"ok"
    assert response.content == response.body


def test_response_code_is_the_status_with_a_deprecation_warning(server):
    response, _ = get(f"{server.base}/status/201")

    with pytest.warns(DeprecationWarning):
        assert response.response_code == 201


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_error_statuses_do_not_raise(server, status):
    response, metrics = get(f"{server.base}/status/{status}")

    assert response.status_code == status
    assert [m["response_code"] for m in metrics] == [status]


def test_body_without_a_charset_decodes_as_latin1_and_keeps_its_bytes(server):
    response, _ = get(f"{server.base}/latin1")

    assert response.body == b"caf\xe9"
    assert response.encoding == "latin1"
    assert response.text == "café"


def test_body_with_a_charset_decodes_with_it(server):
    response, _ = get(f"{server.base}/utf8")

    assert response.encoding == "utf-8"
    assert response.text == "café"


def test_gzip_encoded_body_is_decoded(server):
    response, _ = get(f"{server.base}/gzip")

    assert response.body == GZIP_TEXT


def test_a_large_response_body_arrives_intact(server):
    response, metrics = get(f"{server.base}/big")

    assert len(response.body) == len(BIG_BODY)
    assert sha(response.body) == sha(BIG_BODY)
    assert response.download_size == float(len(BIG_BODY))
    assert metrics[0]["download_size"] == float(len(BIG_BODY))


def test_response_timings_are_cumulative_offsets_within_total_time(fresh_server):
    response, _ = get(f"{fresh_server.base}/echo")

    assert isinstance(response.start_time, int)
    assert abs(response.start_time - time.time()) < 5
    assert 0 <= response.namelookup_time <= response.connect_time <= response.pretransfer_time
    assert response.pretransfer_time <= response.starttransfer_time <= response.total_time
    assert response.appconnect_time == 0.0
    assert response.connect_time > 0
    assert response.primary_ip == "127.0.0.1"


def test_upload_size_counts_the_request_body(server):
    response, _ = request("post", f"{server.base}/echo", data=b"x" * 1000)

    assert response.upload_size == 1000.0


# Cookies


def test_cookies_set_by_the_server_are_sent_on_the_next_request_of_the_session(server):
    async def journey(ctx):
        await ctx.http.get(f"{server.base}/set-cookie?session=abc&theme=dark")
        return await ctx.http.get(f"{server.base}/echo")

    response, _ = run_http(journey)

    cookie_header = server.seen("/echo")[0].headers["Cookie"]
    assert sorted(cookie_header.split("; ")) == ["session=abc", "theme=dark"]
    assert response.cookies == {"session": "abc", "theme": "dark"}


def test_cookies_set_in_one_journey_are_not_sent_by_another(server):
    async def logs_in(ctx):
        await ctx.http.get(f"{server.base}/set-cookie?session=first")

    async def browses(ctx):
        return await ctx.http.get(f"{server.base}/echo")

    async def both():
        first, _ = make_context()
        second, _ = make_context()
        await mite_http(logs_in)(first)
        return await mite_http(browses)(second)

    response = run_loop(both())

    assert "Cookie" not in server.seen("/echo")[0].headers
    assert response.cookies == {}


def test_cookies_of_concurrent_journeys_stay_apart(server):
    async def journey(ctx, n):
        await ctx.http.get(f"{server.base}/set-cookie?who={n}")
        await asyncio.sleep(0.05)
        await ctx.http.get(f"{server.base}/echo?n={n}")

    async def all_at_once():
        contexts = [make_context()[0] for _ in range(4)]
        await asyncio.gather(*(mite_http(journey)(c, n) for n, c in enumerate(contexts)))

    run_loop(all_at_once())

    sent = {r.path: r.headers["Cookie"] for r in server.seen("/echo")}
    assert sent == {f"/echo?n={n}": f"who={n}" for n in range(4)}


def test_cookies_parameter_sticks_to_the_session(server):
    async def journey(ctx):
        await ctx.http.get(f"{server.base}/echo?first", cookies={"token": "t0k"})
        return await ctx.http.get(f"{server.base}/echo?second")

    response, _ = run_http(journey)

    assert [r.headers["Cookie"] for r in server.requests] == ["token=t0k", "token=t0k"]
    assert response.cookies == {"token": "t0k"}


def test_session_cookies_lists_the_jar_and_erase_all_cookies_empties_it(server):
    async def journey(ctx):
        await ctx.http.get(f"{server.base}/set-cookie?a=1")
        before = dict(ctx.http.cookies())
        ctx.http.erase_all_cookies()
        after = dict(ctx.http.cookies())
        await ctx.http.get(f"{server.base}/echo")
        return before, after

    (before, after), _ = run_http(journey)

    assert before == {"a": "1"}
    assert after == {}
    assert "Cookie" not in server.seen("/echo")[0].headers


def test_create_http_cookie_makes_a_cookie_with_domain_name_and_value():
    ctx, _ = make_context()

    cookie = create_http_cookie(ctx, "example.com", "flavour", "oat")

    assert isinstance(cookie, Cookie)
    assert (cookie.domain, cookie.name, cookie.value) == ("example.com", "flavour", "oat")


def test_created_cookie_is_sent_to_its_own_domain_only(server):
    async def journey(ctx):
        await ctx.http.get(
            f"{server.base}/echo",
            cookies={
                "here": create_http_cookie(ctx, "127.0.0.1", "here", "yes"),
                "elsewhere": create_http_cookie(ctx, "example.com", "elsewhere", "no"),
            },
        )

    run_http(journey)

    assert server.requests[0].headers["Cookie"] == "here=yes"


# Redirects


@pytest.mark.parametrize(
    ("status", "method", "body"),
    [
        (301, "GET", b""),
        (302, "GET", b""),
        (303, "GET", b""),
        (307, "POST", b"payload"),
        (308, "POST", b"payload"),
    ],
)
def test_redirected_post_becomes_get_or_keeps_method_and_body(server, status, method, body):
    response, metrics = request(
        "post", f"{server.base}/redirect/{status}?to=/echo", data=b"payload"
    )

    assert response.status_code == 200
    assert [(r.method, r.path, r.body) for r in server.requests] == [
        ("POST", f"/redirect/{status}?to=/echo", b"payload"),
        (method, "/echo", body),
    ]
    assert [m["method"] for m in metrics] == [b"POST", method.encode()]


def test_redirects_resend_headers_and_session_cookies(server):
    async def journey(ctx):
        await ctx.http.get(f"{server.base}/set-cookie?s=1")
        await ctx.http.get(f"{server.base}/redirect/302?to=/echo", headers={"X-Trace": "t"})

    run_http(journey)

    [hop] = server.seen("/echo")
    assert hop.headers["X-Trace"] == "t"
    assert hop.headers["Cookie"] == "s=1"


def test_redirect_history_lists_earlier_responses_oldest_first(server):
    response, metrics = get(f"{server.base}/hop/3")

    assert response.url == f"{server.base}/hop/0"
    assert response.body == b"arrived"
    assert [r.url for r in response.history] == [f"{server.base}/hop/{n}" for n in (3, 2, 1)]
    assert [r.status_code for r in response.history] == [302, 302, 302]
    assert response.history[0].redirect_url == f"{server.base}/hop/2"
    assert response.redirect_url is None
    assert [m["effective_url"] for m in metrics] == [f"{server.base}/hop/{n}" for n in (3, 2, 1, 0)]


def test_redirect_loop_raises_request_error_after_six_responses(server):
    async def journey(ctx):
        with pytest.raises(RequestError) as caught:
            await ctx.http.get(f"{server.base}/loop")
        return caught.value

    error, metrics = run_http(journey)

    assert "Max Redirects" in str(error)
    assert isinstance(error, HttpError)
    assert len(metrics) == 6
    assert len(server.requests) == 6


def test_max_redirects_zero_raises_on_the_first_redirect(server):
    async def journey(ctx):
        with pytest.raises(RequestError, match="Max Redirects"):
            await ctx.http.get(f"{server.base}/hop/2", max_redirects=0)

    _, metrics = run_http(journey)

    assert [m["response_code"] for m in metrics] == [302]
    assert len(server.requests) == 1


def test_max_redirects_allows_exactly_that_many_hops(server):
    response, metrics = get(f"{server.base}/hop/2", max_redirects=2)

    assert response.status_code == 200
    assert len(metrics) == 3


def test_allow_redirects_false_returns_the_redirect(server):
    response, metrics = get(f"{server.base}/hop/2", allow_redirects=False)

    assert response.status_code == 302
    assert response.redirect_url == f"{server.base}/hop/1"
    assert response.history == []
    assert len(metrics) == 1
    assert len(server.requests) == 1


# Failures


def test_connection_refused_raises_http_error_naming_method_and_url(closed_port):
    url = f"http://127.0.0.1:{closed_port}/nowhere"

    async def journey(ctx):
        with pytest.raises(HttpError) as caught:
            await ctx.http.post(url)
        return caught.value

    error, metrics = run_http(journey)

    assert "POST" in str(error)
    assert url in str(error)
    assert re.search("(?i)refused|connect", str(error))
    assert metrics == []


def test_timeout_raises_http_error_quickly_instead_of_waiting(server):
    async def journey(ctx):
        started = time.monotonic()
        with pytest.raises(HttpError) as caught:
            await ctx.http.get(f"{server.base}/slow", timeout=0.5)
        return time.monotonic() - started, caught.value

    (elapsed, error), metrics = run_http(journey)

    assert 0.4 < elapsed < 2.0
    assert f"{server.base}/slow" in str(error)
    assert re.search("(?i)time", str(error))
    assert metrics == []


def test_default_tls_verification_rejects_a_self_signed_certificate(tls_server):
    async def journey(ctx):
        with pytest.raises(HttpError) as caught:
            await ctx.http.get(f"{tls_server.base}/echo")
        return caught.value

    error, metrics = run_http(journey)

    assert f"{tls_server.base}/echo" in str(error)
    assert re.search("(?i)tls|certificate", str(error))
    assert metrics == []


def test_verify_false_accepts_a_self_signed_certificate(tls_server):
    response, metrics = get(f"{tls_server.base}/echo", verify=False)

    assert response.status_code == 200
    assert response.body == b"ok"
    assert metrics[0]["effective_url"] == f"{tls_server.base}/echo"


def test_tls_time_is_after_connect_on_a_new_https_connection(fresh_tls_server):
    response, _ = get(f"{fresh_tls_server.base}/echo", verify=False)

    assert 0 < response.connect_time < response.appconnect_time <= response.pretransfer_time
    assert response.primary_ip == "127.0.0.1"


# Connection reuse


def test_second_request_on_a_keep_alive_connection_reports_zero_connect_time(fresh_server):
    async def journey(ctx):
        first = await ctx.http.get(f"{fresh_server.base}/echo")
        second = await ctx.http.get(f"{fresh_server.base}/echo")
        return first, second

    (first, second), metrics = run_http(journey)

    assert first.connect_time > 0
    assert second.connect_time == 0
    assert second.namelookup_time == 0
    assert [m["connect_time"] for m in metrics] == [first.connect_time, 0.0]


# http_metrics


def test_http_metrics_has_mites_fields_in_order_then_the_envelope(fresh_server):
    response, [metric] = get(f"{fresh_server.base}/echo?x=1")

    assert list(metric) == HTTP_METRICS_FIELDS + IN_PROCESS_ENVELOPE
    assert metric["type"] == "http_metrics"
    assert metric["effective_url"] == f"{fresh_server.base}/echo?x=1"
    assert metric["response_code"] == 200
    assert metric["primary_ip"] == "127.0.0.1"
    assert metric["method"] == b"GET"
    assert metric["start_time"] == response.start_time
    assert metric["total_time"] == response.total_time


def test_http_metrics_field_types(fresh_server):
    _, [metric] = get(f"{fresh_server.base}/echo")

    assert type(metric["start_time"]) is int
    assert type(metric["download_size"]) is float
    assert metric["download_size"] == 2.0
    assert type(metric["method"]) is bytes
    assert type(metric["time"]) is float
    for name in PHASE_TIMES + ["total_time"]:
        assert type(metric[name]) is float, name
        assert 0.0 <= metric[name] <= metric["total_time"], name
    assert metric["tls_time"] == 0.0


def test_http_metrics_tls_time_is_positive_for_https(fresh_tls_server):
    response, [metric] = get(f"{fresh_tls_server.base}/echo", verify=False)

    assert metric["tls_time"] == response.appconnect_time
    assert metric["connect_time"] < metric["tls_time"] <= metric["transfer_start_time"]


def test_http_metrics_one_per_response(server):
    async def journey(ctx):
        await ctx.http.get(f"{server.base}/echo")
        await ctx.http.post(f"{server.base}/status/500")
        await ctx.http.put(f"{server.base}/hop/1")

    _, metrics = run_http(journey)

    assert [(m["method"], m["response_code"]) for m in metrics] == [
        (b"GET", 200),
        (b"POST", 500),
        (b"PUT", 302),
        (b"GET", 200),
    ]


@pytest.mark.parametrize("how", ["assign", "mutate"])
def test_additional_metrics_are_merged_after_the_fields(server, how):
    async def journey(ctx):
        assert ctx.http.additional_metrics == {}
        if how == "assign":
            ctx.http.additional_metrics = {"page": "home", "attempt": 2}
        else:
            ctx.http.additional_metrics["page"] = "home"
            ctx.http.additional_metrics["attempt"] = 2
        await ctx.http.get(f"{server.base}/echo")

    _, [metric] = run_http(journey)

    assert list(metric) == HTTP_METRICS_FIELDS + ["page", "attempt"] + IN_PROCESS_ENVELOPE
    assert (metric["page"], metric["attempt"]) == ("home", 2)


def test_response_callback_runs_for_each_hop_before_its_metric(server):
    events = []
    ctx = Context(
        send_fn=lambda m: events.append(("metric", m["effective_url"], m.get("seen_status"))),
        config={},
    )

    def callback(response, additional_metrics):
        events.append(("callback", response.url))
        additional_metrics["seen_status"] = response.status_code

    @mite_http
    async def journey(ctx):
        ctx.http.set_response_callback(callback)
        await ctx.http.get(f"{server.base}/hop/1")

    run_loop(journey(ctx))

    assert events == [
        ("callback", f"{server.base}/hop/1"),
        ("metric", f"{server.base}/hop/1", 302),
        ("callback", f"{server.base}/hop/0"),
        ("metric", f"{server.base}/hop/0", 200),
    ]


def test_http_metrics_carry_the_callers_transaction(server):
    async def journey(ctx):
        async with ctx.transaction("Log in"):
            await ctx.http.get(f"{server.base}/echo")

    ctx, messages = make_context()
    run_loop(mite_http(journey)(ctx))

    [metric] = http_metrics(messages)
    [txn] = [m for m in messages if m["type"] == "txn"]
    assert metric["transaction"] == "Log in"
    assert metric["transaction_id"] == txn["transaction_id"]


def test_a_context_var_set_before_a_request_can_be_reset_after_it(server):
    var = contextvars.ContextVar("var")

    async def journey(ctx):
        token = var.set("during")
        await ctx.http.get(f"{server.base}/echo")
        var.reset(token)
        return var.get("unset")

    result, _ = run_http(journey)

    assert result == "unset"


# ctx.http lifetime


def test_ctx_http_is_removed_after_a_normal_return(server):
    async def journey(ctx):
        await ctx.http.get(f"{server.base}/echo")
        return "done"

    ctx, _ = make_context()
    assert run_loop(mite_http(journey)(ctx)) == "done"

    assert not hasattr(ctx, "http")


def test_ctx_http_is_kept_after_an_exception(server):
    async def journey(ctx):
        raise RuntimeError("journey failed")

    ctx, _ = make_context()
    with pytest.raises(RuntimeError, match="journey failed"):
        run_loop(mite_http(journey)(ctx))

    assert hasattr(ctx, "http")


def test_each_call_gets_a_fresh_session(server):
    sessions = []

    @mite_http
    async def journey(ctx):
        sessions.append(ctx.http)

    async def twice():
        ctx, _ = make_context()
        await journey(ctx)
        await journey(ctx)

    run_loop(twice())

    assert sessions[0] is not sessions[1]


def test_any_object_with_send_can_be_the_context(server):
    class Recorder:
        def __init__(self):
            self.sent = []

        def send(self, type, **fields):
            self.sent.append((type, fields))

    @mite_http
    async def journey(ctx):
        await ctx.http.get(f"{server.base}/echo")

    ctx = Recorder()
    run_loop(journey(ctx))

    [(kind, fields)] = ctx.sent
    assert kind == "http_metrics"
    assert list(fields) == HTTP_METRICS_FIELDS
    assert fields["effective_url"] == f"{server.base}/echo"


def test_requests_work_from_an_event_loop_in_another_thread(server):
    get(f"{server.base}/echo")  # the main thread's loop uses HTTP first
    outcome = {}

    def run():
        try:
            outcome["status"] = get(f"{server.base}/echo")[0].status_code
        except BaseException as e:
            outcome["error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(JOURNEY_TIMEOUT * 2)

    assert outcome == {"status": 200}


def test_a_request_future_can_be_freed_on_another_thread(server):
    kept = []

    async def journey(ctx):
        future = ctx.http.get(f"{server.base}/echo")
        kept.append(future)
        return await future

    run_http(journey)
    unraisable = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        thread = threading.Thread(target=kept.clear)
        thread.start()
        thread.join(JOURNEY_TIMEOUT)
        gc.collect()
    finally:
        sys.unraisablehook = old_hook

    assert kept == []
    assert unraisable == [], "freeing on another thread must not complain"


# --- End to end through the CLI ---------------------------------------------------------------

HTTP_JOURNEYS = """
    from mite.datapools import IterableDataPool
    from mite_http import RequestError, mite_http
    from observe import observe

    BASE = "BASE_URL"


    @mite_http
    async def log_in(ctx, n):
        ctx.http.additional_metrics["journey_n"] = n
        async with ctx.transaction("Log in"):
            first = await ctx.http.get(f"{BASE}/set-cookie?user=u{n}")
            second = await ctx.http.post(f"{BASE}/echo?n={n}", json={"n": n})
        try:
            await ctx.http.get(f"{BASE}/loop?n={n}")
        except RequestError as e:
            loop_error = str(e)
        observe(
            n=n,
            statuses=[first.status_code, second.status_code],
            cookies=second.cookies,
            loop_error=loop_error,
        )


    def scenario():
        pool = IterableDataPool([(n,) for n in range(3)])
        return [("http_journeys:log_in", pool, lambda s, e: 1)]
    """

SINGLE_REQUEST_JOURNEY = """
    import time

    from mite.datapools import IterableDataPool
    from mite_http import HttpError, mite_http
    from observe import observe

    URL = "REQUEST_URL"
    REQUEST_KWARGS = {}


    @mite_http
    async def fetch(ctx, n):
        started = time.monotonic()
        try:
            response = await ctx.http.get(URL, **REQUEST_KWARGS)
        except HttpError as e:
            observe(error=type(e).__name__, message=str(e), elapsed=time.monotonic() - started)
            raise
        observe(status=response.status_code, body=response.text)


    def scenario():
        return [("fetch_journey:fetch", IterableDataPool([(1,)]), lambda s, e: 1)]
    """


def collected(project):
    with open(project.path / "collector_data" / "current", "rb") as f:
        return list(msgpack.Unpacker(f, raw=False, strict_map_key=False))


def run_single_request(project, url, env=None, kwargs="{}"):
    """Runs one journey making one GET of `url` (with `kwargs`, Python source)."""
    source = SINGLE_REQUEST_JOURNEY.replace("REQUEST_URL", url)
    project.write(
        "fetch_journey.py", source.replace("REQUEST_KWARGS = {}", f"REQUEST_KWARGS = {kwargs}")
    )
    return project.run("scenario", "test", "fetch_journey:scenario", env=env)


@pytest.fixture(scope="module")
def http_run(tmp_path_factory, mite_project_factory):
    """Three journeys, one after another, each logging in over HTTP and then hitting a
    redirect loop; returns the project, the CLI result, the collected messages, the server
    and the requests it saw."""
    with running_server() as server:
        project = mite_project_factory(tmp_path_factory.mktemp("http"))
        project.write("http_journeys.py", HTTP_JOURNEYS.replace("BASE_URL", server.base))
        result = project.run("scenario", "test", "http_journeys:scenario")
        return project, result, collected(project), server, list(server.requests)


def test_cli_journeys_using_http_complete(http_run):
    project, result, *_ = http_run

    assert result.returncode == 0, result.stderr
    assert [o["n"] for o in project.observed()] == [0, 1, 2]
    assert all(o["statuses"] == [200, 200] for o in project.observed())


def test_cli_http_metrics_have_mites_fields_then_additional_metrics_then_the_envelope(http_run):
    _, _, messages, server, _ = http_run

    metric = next(m for m in messages if m["type"] == "http_metrics")
    assert list(metric) == HTTP_METRICS_FIELDS + ["journey_n"] + RUNNER_ENVELOPE
    assert metric["effective_url"] == f"{server.base}/set-cookie?user=u0"
    assert metric["response_code"] == 200
    assert metric["primary_ip"] == "127.0.0.1"
    assert metric["journey_n"] == 0
    assert metric["journey"] == "http_journeys:log_in"


def test_cli_http_metrics_field_types_survive_msgpack(http_run):
    _, _, messages, _, _ = http_run

    metrics = [m for m in messages if m["type"] == "http_metrics"]
    assert metrics
    for metric in metrics:
        assert type(metric["start_time"]) is int
        assert abs(metric["start_time"] - metric["time"]) < 5
        assert type(metric["method"]) is bytes
        assert type(metric["download_size"]) is float
        for name in PHASE_TIMES + ["total_time"]:
            assert type(metric[name]) is float, name
            assert 0.0 <= metric[name] <= metric["total_time"], name
        assert metric["tls_time"] == 0.0


def test_cli_http_metrics_carry_the_journeys_transaction(http_run):
    _, _, messages, server, _ = http_run

    in_txn = [
        m for m in messages if m["type"] == "http_metrics" and "/loop" not in m["effective_url"]
    ]
    assert len(in_txn) == 6
    assert {m["transaction"] for m in in_txn} == {"__root__ :: Log in"}
    txn_ids = {m["transaction_id"] for m in messages if m["type"] == "txn"}
    assert {m["transaction_id"] for m in in_txn} <= txn_ids
    assert [m["method"] for m in in_txn[:2]] == [b"GET", b"POST"]


def test_cli_second_request_of_a_journey_reuses_the_connection(http_run):
    _, _, messages, server, _ = http_run

    posts = [m for m in messages if m["type"] == "http_metrics" and m["method"] == b"POST"]
    assert len(posts) == 3
    assert [m["connect_time"] for m in posts] == [0.0, 0.0, 0.0]


def test_cli_redirect_loop_sends_six_http_metrics_then_raises_request_error(http_run):
    project, _, messages, server, _ = http_run

    loops = [m for m in messages if m["type"] == "http_metrics" and "/loop" in m["effective_url"]]
    assert len(loops) == 3 * 6
    assert {m["response_code"] for m in loops} == {302}
    assert all("Max Redirects" in o["loop_error"] for o in project.observed())


def test_cli_cookies_stay_within_their_journey(http_run):
    project, _, _, _, seen = http_run

    sent = {r.path: r.headers.get_all("Cookie") for r in seen if r.path.startswith("/echo")}
    assert sent == {f"/echo?n={n}": [f"user=u{n}"] for n in range(3)}
    assert [o["cookies"] for o in project.observed()] == [{"user": f"u{n}"} for n in range(3)]


def test_cli_json_body_reaches_the_server(http_run):
    _, _, _, _, seen = http_run

    posts = [r for r in seen if r.method == "POST"]
    assert [r.body for r in posts] == [json.dumps({"n": n}).encode() for n in range(3)]


TRANSACTION_JOURNEY = """
    from mite.datapools import IterableDataPool
    from mite_http import mite_http
    from observe import observe

    BASE = "BASE_URL"


    @mite_http
    async def log_in(ctx, n):
        async with ctx.transaction("Log in"):
            first = await ctx.http.get(f"{BASE}/echo?n={n}")
            second = await ctx.http.post(f"{BASE}/echo?n={n}", data="user=u")
        observe(n=n, statuses=[first.status_code, second.status_code])


    def scenario():
        return [("txn_journey:log_in", IterableDataPool([(0,), (1,)]), lambda s, e: 2)]
    """


@pytest.mark.parametrize(
    "driver",
    [
        pytest.param([], id="rust-driver"),
        pytest.param(["--asyncio-tasks"], id="tasks"),
    ],
)
def test_cli_http_in_a_transaction_works_under_each_journey_driver(mite_project, server, driver):
    mite_project.write("txn_journey.py", TRANSACTION_JOURNEY.replace("BASE_URL", server.base))

    result = mite_project.run("scenario", "test", "txn_journey:scenario", *driver)

    assert result.returncode == 0, result.stderr
    assert sorted(o["n"] for o in mite_project.observed()) == [0, 1]
    assert all(o["statuses"] == [200, 200] for o in mite_project.observed())
    metrics = [m for m in collected(mite_project) if m["type"] == "http_metrics"]
    assert sorted(m["method"] for m in metrics) == [b"GET", b"GET", b"POST", b"POST"]
    assert {m["transaction"] for m in metrics} == {"__root__ :: Log in"}
    assert sorted(r.body for r in server.requests) == [b"", b"", b"user=u", b"user=u"]


def test_cli_connection_refused_is_a_journey_error_failing_the_run(mite_project, closed_port):
    url = f"http://127.0.0.1:{closed_port}/nowhere"

    result = run_single_request(mite_project, url)

    assert result.returncode == 1
    assert any(line.endswith("Error count exceeded: 1") for line in result.stderr_lines)
    [observed] = mite_project.observed()
    assert observed["error"] == "HttpError"
    assert url in observed["message"]
    assert not [m for m in collected(mite_project) if m.get("type") == "http_metrics"]


def test_cli_mite_http_verify_0_accepts_a_self_signed_certificate(mite_project, tls_server):
    result = run_single_request(
        mite_project, f"{tls_server.base}/echo", env={"MITE_HTTP_VERIFY": "0"}
    )

    assert result.returncode == 0, result.stderr
    assert mite_project.observed() == [{"status": 200, "body": "ok"}]
    [metric] = [m for m in collected(mite_project) if m.get("type") == "http_metrics"]
    assert metric["effective_url"] == f"{tls_server.base}/echo"
    assert metric["tls_time"] > 0


def test_cli_default_verification_rejects_a_self_signed_certificate(mite_project, tls_server):
    result = run_single_request(mite_project, f"{tls_server.base}/echo")

    assert result.returncode == 1
    [observed] = mite_project.observed()
    assert observed["error"] == "HttpError"
    assert re.search("(?i)tls|certificate", observed["message"])


REUSE_AFTER_UNVERIFIED_JOURNEY = """
    from mite.datapools import IterableDataPool
    from mite_http import HttpError, mite_http
    from observe import observe

    URL = "REQUEST_URL"


    @mite_http
    async def fetch(ctx, n):
        unverified = await ctx.http.get(URL, verify=False)
        try:
            await ctx.http.get(URL)
        except HttpError as e:
            observe(unverified=unverified.status_code, verified_error=str(e))
        else:
            observe(unverified=unverified.status_code, verified_error=None)


    def scenario():
        return [("reuse_journey:fetch", IterableDataPool([(1,)]), lambda s, e: 1)]
    """


def test_cli_a_verifying_request_does_not_reuse_a_connection_made_without_verification(
    mite_project, fresh_tls_server
):
    url = f"{fresh_tls_server.base}/echo"
    source = REUSE_AFTER_UNVERIFIED_JOURNEY.replace("REQUEST_URL", url)
    mite_project.write("reuse_journey.py", source)

    result = mite_project.run("scenario", "test", "reuse_journey:scenario")

    assert result.returncode == 0, result.stderr
    [observed] = mite_project.observed()
    assert observed["unverified"] == 200
    assert observed["verified_error"] is not None
    assert re.search("(?i)tls|certificate", observed["verified_error"])


def test_cli_mite_http_timeout_sets_the_default_timeout(mite_project, server):
    result = run_single_request(
        mite_project, f"{server.base}/slow", env={"MITE_HTTP_TIMEOUT": "0.5"}
    )

    assert result.returncode == 1
    [observed] = mite_project.observed()
    assert observed["error"] == "HttpError"
    assert 0.4 < observed["elapsed"] < 2.0


def test_cli_timeout_argument_ends_a_slow_request(mite_project, server):
    result = run_single_request(mite_project, f"{server.base}/slow", kwargs='{"timeout": 0.5}')

    assert result.returncode == 1
    [observed] = mite_project.observed()
    assert observed["error"] == "HttpError"
    assert 0.4 < observed["elapsed"] < 2.0
    assert f"{server.base}/slow" in observed["message"]


def test_mite_http_keeps_the_journeys_name_signature_and_coroutine_nature():
    import asyncio as _asyncio
    import inspect

    async def sign_in(ctx, username, *, remember=False):
        """Logs a user in."""

    wrapped = mite_http(sign_in)

    assert wrapped.__name__ == "sign_in"
    assert wrapped.__doc__ == "Logs a user in."
    assert wrapped.__wrapped__ is sign_in
    assert str(inspect.signature(wrapped)) == "(ctx, username, *, remember=False)"
    assert _asyncio.iscoroutinefunction(wrapped)


# --- Where the HTTP work runs: the HTTP thread, or the event loop's own thread ----------------
# `make test` runs this module a second time with MITE_HTTP_THREADS=0, so every in-process test
# above also runs on a loop doing its own HTTP work, and every CLI test with `mite` choosing it.


def test_cancelling_a_request_leaves_the_session_usable(server):
    async def journey(ctx):
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ctx.http.get(f"{server.base}/slow"), 0.2)
        cancelled_after = time.monotonic() - started
        response = await ctx.http.get(f"{server.base}/echo")
        return cancelled_after, response.status_code

    (cancelled_after, status), metrics = run_http(journey)

    assert cancelled_after < 1.0
    assert status == 200
    assert [m["effective_url"] for m in metrics] == [f"{server.base}/echo"]


def test_timers_fire_on_time_while_a_request_is_in_flight(server):
    async def journey(ctx):
        started = time.monotonic()
        slow = asyncio.ensure_future(ctx.http.get(f"{server.base}/slow", timeout=1.0))
        await asyncio.sleep(0.1)
        slept = time.monotonic() - started
        with pytest.raises(HttpError):
            await slow
        return slept

    slept, _ = run_http(journey)

    assert 0.09 < slept < 0.5


THREAD_NAMES_JOURNEY = """
    from pathlib import Path

    from mite.datapools import IterableDataPool
    from mite_http import mite_http
    from observe import observe


    @mite_http
    async def fetch(ctx, n):
        response = await ctx.http.get("REQUEST_URL")
        names = sorted(p.read_text().strip() for p in Path("/proc/self/task").glob("*/comm"))
        observe(status=response.status_code, threads=names)


    def scenario():
        return [("threads_journey:fetch", IterableDataPool([(1,)]), lambda s, e: 1)]
    """


def run_thread_names(project, url, env=None, cpus=None):
    project.write("threads_journey.py", THREAD_NAMES_JOURNEY.replace("REQUEST_URL", url))
    if cpus is None:
        return project.run("scenario", "test", "threads_journey:scenario", env=env)
    # The CLI's own process pinned to `cpus`, as `taskset` would.
    import os

    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        return project.run("scenario", "test", "threads_journey:scenario", env=env)
    finally:
        os.sched_setaffinity(0, previous)


def test_cli_on_one_cpu_does_http_on_the_event_loops_thread(mite_project, server):
    import os

    one_cpu = {min(os.sched_getaffinity(0))}
    result = run_thread_names(
        mite_project, f"{server.base}/echo", env={"MITE_HTTP_THREADS": None}, cpus=one_cpu
    )

    assert result.returncode == 0, result.stderr
    [observed] = mite_project.observed()
    assert observed["status"] == 200
    assert "mite-http" not in observed["threads"]


def test_cli_mite_http_threads_chooses_the_http_thread(mite_project, server):
    result = run_thread_names(mite_project, f"{server.base}/echo", env={"MITE_HTTP_THREADS": "1"})

    assert result.returncode == 0, result.stderr
    [observed] = mite_project.observed()
    assert observed["status"] == 200
    assert "mite-http" in observed["threads"]


def test_cli_mite_http_threads_zero_keeps_http_on_the_loops_thread(mite_project, server):
    result = run_thread_names(mite_project, f"{server.base}/echo", env={"MITE_HTTP_THREADS": "0"})

    assert result.returncode == 0, result.stderr
    [observed] = mite_project.observed()
    assert observed["status"] == 200
    assert "mite-http" not in observed["threads"]


class _PlainContext:
    """A context of the test's own, as mite's tests use (not a runner's)."""

    config = {}

    def send(self, *args, **kwargs):
        pass


def test_a_loop_running_an_http_journey_has_a_session_pool_until_it_closes():
    @mite_http
    async def journey(ctx):
        pass

    loop = asyncio.new_event_loop()
    try:
        assert loop not in SessionPool._session_pools
        loop.run_until_complete(journey(_PlainContext()))
        assert loop in SessionPool._session_pools
        assert SessionPool._session_pools[loop].loop is loop
        assert any(known is loop for known in SessionPool._session_pools)
    finally:
        loop.close()
    assert loop not in SessionPool._session_pools

"""`mite.test`: running a journey once by hand, and spying on its HTTP requests, as mite's
users' unit tests of journeys do."""

import asyncio
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mite.datapools import RecyclableIterableDataPool
from mite.test import http_spy, run_single_journey
from mite_http import mite_http


class _Handler(BaseHTTPRequestHandler):
    def _answer(self):
        if self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.path.encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def base():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_run_single_journey_passes_the_datapools_first_item_and_keeps_the_messages(base):
    @mite_http
    async def journey(ctx, user, password):
        async with ctx.transaction("Log in"):
            await ctx.http.get(f"{base}/login/{user}")
        ctx.send("data_created", name="sessions", data=[user, password, ctx.config["env"]])
        return {"done": True}

    pool = RecyclableIterableDataPool([("ann", "secret"), ("bob", "hunter2")])
    result = asyncio.run(run_single_journey({"env": "test"}, journey, pool))

    assert result["done"] is True
    kinds = [(message["type"], extra) for message, extra in result["messages"]]
    assert kinds == [("http_metrics", {}), ("txn", {}), ("data_created", {})]
    created = result["messages"][2][0]
    assert created["data"] == ["ann", "secret", "test"]
    assert result["messages"][0][0]["transaction"] == "Log in"


def test_http_spy_returns_each_methods_responses_in_order(base):
    @mite_http
    async def journey(ctx, n):
        await ctx.http.get(f"{base}/items")
        await ctx.http.post(f"{base}/items", json={"n": n})
        await ctx.http.get(f"{base}/items/{n}")
        await ctx.http.delete(f"{base}/items/{n}")
        return "ignored"

    result = asyncio.run(
        run_single_journey({}, http_spy(journey), RecyclableIterableDataPool([(3,)]))
    )

    spied = result["http"]
    assert [r.text for r in spied["get"]] == ["/items", "/items/3"]
    assert [(r.status_code, r.text) for r in spied["post"]] == [(201, "/items")]
    assert [r.text for r in spied["delete"]] == ["/items/3"]
    assert [m["type"] for m, _ in result["messages"]].count("http_metrics") == 4


def test_a_journey_without_a_datapool_runs_with_no_arguments():
    async def journey(ctx):
        ctx.send("note", text="hello")

    result = asyncio.run(run_single_journey({}, journey))

    assert [m["text"] for m, _ in result["messages"]] == ["hello"]


def test_a_journey_catching_acurls_errors_catches_mite_rs_s(base):
    import acurl

    @mite_http
    async def journey(ctx):
        caught = []
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed = sock.getsockname()[1]
        try:
            await ctx.http.get(f"http://127.0.0.1:{closed}/")
        except acurl.AcurlError as e:
            caught.append(("AcurlError", str(e)))
        try:
            await ctx.http.get(f"{base}/loop", max_redirects=2)
        except acurl.RequestError as e:
            caught.append(("RequestError", str(e)))
        return {"caught": caught}

    result = asyncio.run(run_single_journey({}, journey))

    (first, refused), (second, redirected) = result["caught"]
    assert (first, second) == ("AcurlError", "RequestError")
    assert "Connection refused" in refused, refused
    assert redirected.endswith("Max Redirects"), redirected

"""`ctx.http` through an HTTP proxy the test starts on 127.0.0.1: the environment's
`http_proxy` / `HTTPS_PROXY` (a CONNECT tunnel) / `NO_PROXY` as libcurl reads them, a request's
`proxy=`, credentials in the proxy URL, and a proxy that refuses. Each case runs in a fresh
interpreter: the environment's proxies are read once per process."""

import socket
import socketserver
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import http_fetch
import pytest

DATA = Path(__file__).parent / "data"


PROXY_VARIABLES = {
    "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY",
    "all_proxy", "ALL_PROXY",
}  # fmt: skip


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return None, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def pipe(source, sink):
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _ProxyHandler(socketserver.BaseRequestHandler):
    """A small forward proxy: CONNECT tunnels, and absolute-form requests relayed with
    `Connection: close`. Every request line and its Proxy-Authorization are logged."""

    def handle(self):
        head, rest = read_head(self.request)
        if head is None:
            return
        request_line, *header_lines = head.split("\r\n")
        headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
        lower = {k.lower(): v for k, v in headers.items()}
        self.server.seen.append((request_line, lower.get("proxy-authorization")))
        method, target, _version = request_line.split(" ")
        if method == "CONNECT":
            if self.server.refuse:
                self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)), timeout=10)
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=pipe, args=(upstream, self.request), daemon=True).start()
            pipe(self.request, upstream)
            return
        rest_of_url = target.split("://", 1)[1]
        authority, _, path = rest_of_url.partition("/")
        host, port = authority.rsplit(":", 1)
        kept = [
            f"{k}: {v}"
            for k, v in headers.items()
            if not k.lower().startswith(("proxy-", "connection"))
        ]
        forwarded = "\r\n".join([f"{method} /{path} HTTP/1.1", *kept, "Connection: close", "", ""])
        with socket.create_connection((host, int(port)), timeout=10) as upstream:
            upstream.sendall(forwarded.encode("latin-1") + rest)
            response = b""
            while chunk := upstream.recv(65536):
                response += chunk
        response_head, _, body = response.partition(b"\r\n\r\n")
        lines = [
            line
            for line in response_head.split(b"\r\n")
            if not line.lower().startswith(b"connection:")
        ]
        self.request.sendall(b"\r\n".join([*lines, b"Connection: close", b"", b""]) + body)


class _Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, refuse=False):
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.seen = []
        self.refuse = refuse
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class _Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = f"{self.path} via host {self.headers['Host']}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _TlsOrigin(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Origin)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(DATA / "selfsigned.crt", DATA / "selfsigned.key")

    def finish_request(self, request, client_address):
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)


def serving(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def origin():
    server = serving(ThreadingHTTPServer(("127.0.0.1", 0), _Origin))
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def tls_origin():
    server = serving(_TlsOrigin())
    yield f"https://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def proxy():
    server = serving(_Proxy())
    yield server
    server.shutdown()
    server.server_close()


def fetch(tmp_path, url, env=None, **kwargs):
    return http_fetch.fetch(tmp_path, url, unset=PROXY_VARIABLES, env=env, metrics=True, **kwargs)


def test_http_proxy_takes_plain_requests_in_absolute_form(tmp_path, origin, proxy):
    url = f"{origin}/items?page=2"
    result = fetch(tmp_path, url, env={"http_proxy": proxy.url})
    authority = origin.split("://")[1]
    assert result["status"] == 200, result
    assert result["body"] == f"/items?page=2 via host {authority}"
    assert proxy.seen == [(f"GET {url} HTTP/1.1", None)]
    [metrics] = result["metrics"]
    assert metrics["effective_url"] == url
    assert 0 < metrics["connect_time"] <= metrics["total_time"]


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy"])
def test_https_proxy_tunnels_with_connect(tmp_path, tls_origin, proxy, variable):
    result = fetch(tmp_path, f"{tls_origin}/secure", env={variable: proxy.url}, verify=False)
    assert result["status"] == 200, result
    assert result["body"].startswith("/secure via host 127.0.0.1:")
    authority = tls_origin.split("://")[1]
    assert proxy.seen == [(f"CONNECT {authority} HTTP/1.1", None)]


def test_no_proxy_and_an_empty_proxy_argument_go_straight_to_the_server(
    tmp_path, origin, tls_origin, proxy
):
    env = {"HTTP_PROXY": proxy.url, "HTTPS_PROXY": proxy.url, "NO_PROXY": "localhost,127.0.0.0/8"}
    assert fetch(tmp_path, f"{origin}/direct", env=env)["status"] == 200
    assert fetch(tmp_path, f"{tls_origin}/direct", env=env, verify=False)["status"] == 200
    env = {"HTTP_PROXY": proxy.url}
    assert fetch(tmp_path, f"{origin}/direct", env=env, proxy="")["status"] == 200
    assert proxy.seen == []


def test_a_requests_proxy_argument_and_the_proxy_urls_credentials(tmp_path, origin, tls_origin):
    proxy = serving(_Proxy())
    try:
        credentials = proxy.url.replace("http://", "http://ann:s%40cret@")
        # base64("ann:s@cret")
        expected = "Basic YW5uOnNAY3JldA=="
        assert fetch(tmp_path, f"{origin}/a", proxy=credentials)["status"] == 200
        result = fetch(tmp_path, f"{tls_origin}/b", proxy=credentials, verify=False)
        assert result["status"] == 200, result
        assert [auth for _line, auth in proxy.seen] == [expected, expected]
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_a_proxy_that_refuses_the_tunnel_is_one_clear_error(tmp_path, tls_origin):
    proxy = serving(_Proxy(refuse=True))
    try:
        result = fetch(tmp_path, f"{tls_origin}/", proxy=proxy.url, verify=False)
    finally:
        proxy.shutdown()
        proxy.server_close()
    authority = tls_origin.split("://")[1]
    assert "error" in result, result
    assert f"refused the tunnel to {authority}: HTTP/1.1 403 Forbidden" in result["error"]
    assert result["metrics"] == []


def test_bad_proxy_settings_are_one_line(tmp_path, origin):
    result = fetch(tmp_path, f"{origin}/", env={"http_proxy": "socks5://127.0.0.1:1"})
    assert (
        'http_proxy: "socks5://127.0.0.1:1": only http:// proxies are supported' in result["error"]
    )
    result = fetch(tmp_path, f"{origin}/", proxy=3)
    assert "proxy must be a proxy URL" in result["error"], result

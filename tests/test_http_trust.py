"""Which servers `ctx.http` trusts: a local HTTPS server whose certificate is signed by a CA
the test makes (with openssl), reached with the CA given each way users give it (the system
store's variables, the variables requests and curl read, mite-rs's own, `verify=` per
request), and a client certificate signed by the same CA.

Each case runs in a fresh interpreter: the default roots are read once per process."""

import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_fetch
import pytest


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory, name):
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN=mite-rs test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    return key, cert


def issue(directory, ca, name, extensions):
    """A certificate for `name` signed by `ca` (key, cert), with `extensions` (openssl's)."""
    key, csr, cert = (directory / f"{name}.{ext}" for ext in ("key", "csr", "pem"))
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", f"/CN={name}",
        cwd=directory,
    )  # fmt: skip
    (directory / f"{name}.ext").write_text(extensions)
    openssl(
        "x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0], "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", directory / f"{name}.ext",
        cwd=directory,
    )  # fmt: skip
    return key, cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    ca = make_ca(directory, "ca")
    other_ca = make_ca(directory, "other-ca")
    server = issue(
        directory,
        ca,
        "server",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    client = issue(directory, ca, "client", "extendedKeyUsage=clientAuth\n")
    # A directory holding the CA among files that are not certificates, as hashed
    # certificate directories often do.
    ca_dir = directory / "ca-dir"
    ca_dir.mkdir()
    (ca_dir / "ca.pem").write_bytes(ca[1].read_bytes())
    (ca_dir / "README").write_text("not a certificate\n")
    return {
        "dir": directory,
        "ca": ca[1],
        "ca_dir": ca_dir,
        "other_ca": other_ca[1],
        "server": server,
        "client": client,
    }


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        peer = self.connection.getpeercert()
        subject = dict(x[0] for x in peer["subject"]) if peer else {}
        body = f"client={subject.get('commonName', '-')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = context

    def finish_request(self, request, client_address):
        request.settimeout(5)
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that refused our certificate
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass


def serve(pki, client_certs):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server"][1], pki["server"][0])
    if client_certs:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki["ca"])
    server = _TlsServer(context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def server(pki):
    server = serve(pki, client_certs=False)
    yield f"https://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def mtls_server(pki):
    server = serve(pki, client_certs=True)
    yield f"https://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


TRUST_VARIABLES = [
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "MITE_HTTP_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "MITE_HTTP_VERIFY",
]


def fetch(tmp_path, url, env=None, **kwargs):
    return http_fetch.fetch(tmp_path, f"{url}/", unset=TRUST_VARIABLES, env=env, **kwargs)


def assert_refused(result):
    assert "error" in result, result
    assert "certificate" in result["error"].lower() or "UnknownIssuer" in result["error"], result


def test_a_server_of_an_unknown_ca_is_refused_by_default(tmp_path, server):
    assert_refused(fetch(tmp_path, server))


@pytest.mark.parametrize(
    "variable, value",
    [
        ("SSL_CERT_FILE", "ca"),
        ("SSL_CERT_DIR", "ca_dir"),
        ("MITE_HTTP_CA_BUNDLE", "ca"),
        ("REQUESTS_CA_BUNDLE", "ca"),
        ("CURL_CA_BUNDLE", "ca"),
        ("REQUESTS_CA_BUNDLE", "ca_dir"),
    ],
)
def test_a_ca_named_by_the_environment_is_trusted(tmp_path, pki, server, variable, value):
    result = fetch(tmp_path, server, env={variable: str(pki[value])})
    assert result == {"status": 200, "body": "client=-"}


def test_a_bundle_variable_replaces_the_default_roots_and_the_first_one_set_wins(
    tmp_path, pki, server
):
    # requests and curl trust only the bundle they are given; MITE_HTTP_CA_BUNDLE is first.
    env = {"MITE_HTTP_CA_BUNDLE": str(pki["other_ca"]), "REQUESTS_CA_BUNDLE": str(pki["ca"])}
    assert_refused(fetch(tmp_path, server, env=env))
    env = {"REQUESTS_CA_BUNDLE": str(pki["ca"]), "CURL_CA_BUNDLE": str(pki["other_ca"])}
    assert fetch(tmp_path, server, env=env)["status"] == 200


def test_verify_takes_a_ca_bundle_per_request_as_requests_does(tmp_path, pki, server):
    assert fetch(tmp_path, server, verify=str(pki["ca"]))["status"] == 200
    assert fetch(tmp_path, server, verify=str(pki["ca_dir"]))["status"] == 200
    assert_refused(fetch(tmp_path, server, verify=str(pki["other_ca"])))
    # The bundle is checked: the certificate's names still have to match the host.
    mismatch = fetch(tmp_path, server.replace("127.0.0.1", "127.0.0.2"), verify=str(pki["ca"]))
    assert "error" in mismatch, mismatch
    # A per-request bundle wins over the environment's, as verify=True keeps to it.
    env = {"MITE_HTTP_CA_BUNDLE": str(pki["other_ca"])}
    assert fetch(tmp_path, server, env=env, verify=str(pki["ca"]))["status"] == 200
    assert_refused(fetch(tmp_path, server, env=env, verify=True))


def test_bad_bundles_are_one_clear_error_of_the_request(tmp_path, pki, server):
    missing = tmp_path / "missing.pem"
    result = fetch(tmp_path, server, verify=str(missing))
    assert f"reading {missing}" in result["error"], result
    result = fetch(tmp_path, server, env={"MITE_HTTP_CA_BUNDLE": str(missing)})
    assert f"MITE_HTTP_CA_BUNDLE: reading {missing}" in result["error"], result
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    result = fetch(tmp_path, server, env={"CURL_CA_BUNDLE": str(not_pem)})
    assert f"CURL_CA_BUNDLE: {not_pem} holds no certificate" in result["error"], result
    result = fetch(tmp_path, server, verify=3)
    assert "verify must be True, False or the path of a CA bundle but it was: 3" in result["error"]


def test_a_client_certificate_of_the_ca_is_presented_to_a_server_that_asks(
    tmp_path, pki, mtls_server
):
    key, cert = (str(p) for p in pki["client"])
    result = fetch(tmp_path, mtls_server, verify=str(pki["ca"]), cert=[key, cert])
    assert result == {"status": 200, "body": "client=client"}
    # Without one the server ends the handshake.
    assert "error" in fetch(tmp_path, mtls_server, verify=str(pki["ca"]))

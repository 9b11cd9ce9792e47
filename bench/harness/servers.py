"""The targets, both on CPU 0: nginx with its request counter, and `mite demo-app`."""

import json
import resource
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from .process import (
    SERVER_CPU,
    BenchError,
    clean_env,
    free_port,
    log,
    pinned,
    run,
    stop_process,
    wait_for_port,
)

# Proxies never apply: every request goes to 127.0.0.1.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class StubStatus:
    """nginx's request counter, less the harness's own status requests."""

    def __init__(self, port):
        self.url = f"http://127.0.0.1:{port}/nginx_status"
        self.own = 0

    def read(self):
        """(requests others made so far, monotonic time of the reading)."""
        before = time.monotonic()
        try:
            with _opener.open(self.url, timeout=10) as response:
                body = response.read().decode()
        except OSError as e:
            raise BenchError(f"nginx's status page did not answer: {e}") from None
        after = time.monotonic()
        self.own += 1  # a status request counts itself
        accepts_handled_requests = body.splitlines()[2].split()
        return int(accepts_handled_requests[2]) - self.own, (before + after) / 2


class Nginx:
    """One worker, no access log, `ok\\n` on /, stub_status on /nginx_status."""

    def __init__(self, scratch):
        self.dir = scratch / "nginx"
        self.port = free_port()
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/"

    def config(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        files = hard if hard != resource.RLIM_INFINITY else 65536
        connections = max(1024, min(files - 100, 32768))
        d = self.dir
        return f"""\
worker_processes 1;
worker_rlimit_nofile {files};
daemon off;
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    # Never close a busy keep-alive connection: every tool keeps its connections for the run.
    keepalive_requests 100000000;
    server {{
        listen 127.0.0.1:{self.port} backlog=16384;
        location = / {{ return 200 "ok\\n"; }}
        location = /nginx_status {{ stub_status; }}
    }}
}}
"""

    def start(self):
        """Start nginx; returns its StubStatus."""
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "nginx.conf"
        conf.write_text(self.config())
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        argv = [binary, "-c", conf, "-p", self.dir, "-e", self.dir / "error.log"]
        self.proc = subprocess.Popen(
            pinned(SERVER_CPU, argv),
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "stderr.log", "wb"),
            start_new_session=True,
        )
        try:
            wait_for_port(self.port, self.proc, "nginx")
        except BenchError as e:
            raise BenchError(f"{e}; see {self.dir}/error.log and stderr.log") from None
        log(f"nginx on 127.0.0.1:{self.port} (CPU {SERVER_CPU})")
        return StubStatus(self.port)

    def stop(self):
        stop_process(self.proc, signal.SIGQUIT)


class DemoApp:
    """`mite demo-app` with one worker thread, and the seed's users created in it."""

    def __init__(self, scratch, mite_rs, repo):
        self.dir = scratch / "seed"
        self.mite_rs = mite_rs
        self.seed = Path(repo) / "examples" / "seed"
        self.port = free_port()
        self.proc = None
        self.username = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        argv = [
            *self.mite_rs.mite,
            "demo-app",
            "--host",
            "127.0.0.1",
            "--port",
            self.port,
            "--threads",
            "1",
        ]
        self.proc = subprocess.Popen(
            pinned(SERVER_CPU, argv),
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=open(self.dir / "demo-app.log", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.port, self.proc, "mite demo-app")
        log(f"mite demo-app on {self.url} (CPU {SERVER_CPU}); creating the seed's users")
        # The seed's creation scenario uses `await ctx.send(...)`, which only mite-rs allows.
        created = run(
            [
                *self.mite_rs.mite,
                "scenario",
                "test",
                "create_users:scenario",
                f"--add-to-config=app_url:{self.url}",
                "--recorder-dir=recorder-data",
                "--hide-constant-logs",
            ],
            cwd=self.dir,
            env=clean_env(PYTHONPATH=self.seed),
            check=False,
        )
        if created.returncode != 0 or not (self.dir / "recorder-data" / "users.msgpack").exists():
            raise BenchError(f"creating the seed's users failed:\n{created.stderr[-3000:]}")
        with _opener.open(f"{self.url}/users", timeout=10) as response:
            users = json.loads(response.read())
        if not users:
            raise BenchError("the demo app has no users after the creation scenario")
        self.username = users[0]
        log(f"{len(users)} users created")

    def stop(self):
        stop_process(self.proc, signal.SIGTERM)

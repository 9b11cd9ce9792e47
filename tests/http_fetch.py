"""One `ctx.http.get` in a fresh interpreter, for tests whose settings (CA bundles, proxies)
come from the environment and are read once per process."""

import json
import os
import subprocess
import sys

SCRIPT = """
import asyncio, json, sys
import mite._http_loop
from mite import Context
from mite._mite import http_on_loop_thread
from mite_http import mite_http

url, kwargs, with_metrics = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "1"
if "cert" in kwargs:
    kwargs["cert"] = tuple(kwargs["cert"])  # (keyfile, certfile), as mite takes it
sent = []

async def journey(ctx):
    try:
        response = await ctx.http.get(url, **kwargs)
        return {"status": response.status_code, "body": response.text}
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"}

loop = mite._http_loop.new_event_loop() if http_on_loop_thread() else asyncio.new_event_loop()
result = loop.run_until_complete(mite_http(journey)(Context(send_fn=sent.append, config={})))
if with_metrics:
    result["metrics"] = [
        {k: m[k] for k in ("effective_url", "response_code", "connect_time", "total_time")}
        for m in sent if m["type"] == "http_metrics"
    ]
print(json.dumps(result))
"""


def fetch(tmp_path, url, unset=(), env=None, metrics=False, **kwargs):
    """GETs `url` with `kwargs` in a new interpreter whose environment lacks the variables in
    `unset` and has `env`; `{"status", "body"}` or `{"error"}`, and with `metrics` the
    response's `http_metrics`."""
    script = tmp_path / "fetch.py"
    script.write_text(SCRIPT)
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    environment.update(env or {})
    out = subprocess.run(
        [sys.executable, script, url, json.dumps(kwargs), "1" if metrics else "0"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])

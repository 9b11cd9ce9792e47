"""The seed document's walkthrough end to end over HTTP: `mite demo-app`, the data-creation
scenario recording users, then the signin scenario reading them back."""

import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import msgpack

EXAMPLES = Path(__file__).parent.parent / "examples" / "seed"


def run_mite(cwd, *args):
    return subprocess.run(
        [sys.executable, "-m", "mite", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def collected(directory):
    """Every message in the collector's files."""
    messages = []
    for path in sorted(directory.iterdir()):
        if path.name == "current_start_time":
            continue
        with path.open("rb") as handle:
            messages.extend(msgpack.Unpacker(handle, raw=False, strict_map_key=False))
    return messages


def test_signin_uses_exactly_the_users_the_app_created_and_every_login_succeeds(demo_app, tmp_path):
    for name in ("create_users.py", "my_file.py"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    app = f"--add-to-config=app_url:{demo_app}"

    created = run_mite(
        tmp_path, "scenario", "test", "create_users:scenario", app, "--add-to-config=users:40"
    )
    assert created.returncode == 0, created.stderr

    with (tmp_path / "recorder-data" / "users.msgpack").open("rb") as handle:
        recorded = [m["username"] for m in msgpack.Unpacker(handle, raw=False)]
    with urllib.request.urlopen(f"{demo_app}/users", timeout=5) as response:
        app_users = json.load(response)
    assert len(recorded) == 40
    assert sorted(recorded) == app_users

    shutil.rmtree(tmp_path / "collector_data")
    signin = run_mite(
        tmp_path,
        "scenario",
        "test",
        "my_file:walkthrough_scenario",
        app,
        "--add-to-config=duration:1",
        "--report",
    )
    assert signin.returncode == 0, signin.stderr

    metrics = [m for m in collected(tmp_path / "collector_data") if m["type"] == "http_metrics"]
    logins = [m for m in metrics if m["effective_url"] == f"{demo_app}/login"]
    assert len(logins) > 40
    assert {m["response_code"] for m in logins} == {200}
    assert {m["transaction"] for m in logins} == {"__root__ :: Log in"}
    assert {m["method"] for m in logins} == {b"POST"}
    # The console statistics count requests from http_metrics.
    assert f"\n{len(metrics)} requests in " in signin.stdout, signin.stdout

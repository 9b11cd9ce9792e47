"""The first Ctrl-C or SIGTERM stops new journeys and lets the running ones finish (for up to
`--grace-period` seconds, default 30), so every record a finished journey sent is in the
recorder's file; a second signal, or the end of the grace period, cancels them."""

import signal
import time

import msgpack
import pytest

# Each journey "creates" a user on the server at once (a line in created.log), gets the
# server's answer after RESPONSE_SECONDS, then records it, as the seed's create_user does.
SCENARIO = """
import asyncio, os

async def create_user(ctx):
    with open("created.log", "a") as log:
        log.write("user\\n")
    await asyncio.sleep(float(os.environ.get("RESPONSE_SECONDS", "1")))
    ctx.send("data_created", name="users", data={"user": 1})

def scenario():
    return [["graceful:create_user", None, lambda start, end: 5]]
"""


@pytest.fixture
def project(mite_project):
    mite_project.write("graceful.py", SCENARIO)
    return mite_project


def recorded(project):
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed((project.path / "recorder_data" / "users.msgpack").read_bytes())
    return list(unpacker)


def created(project):
    return (project.path / "created.log").read_text().count("user\n")


def wait_for_journeys(project, at_least, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (project.path / "created.log").exists() and created(project) >= at_least:
            return
        time.sleep(0.05)
    pytest.fail("the journeys did not start")


@pytest.mark.parametrize(
    "sig, code, runners",
    [(signal.SIGINT, 130, "1"), (signal.SIGTERM, 143, "1"), (signal.SIGINT, 130, "2")],
    ids=["sigint", "sigterm", "sigint-2-runners"],
)
def test_an_interrupt_lets_running_journeys_finish_and_record_what_they_created(
    project, sig, code, runners
):
    process = project.start("scenario", "test", "graceful:scenario", f"--runners={runners}")
    wait_for_journeys(project, at_least=12)
    time.sleep(0.3)  # a second round in flight, between creating and recording
    process.send_signal(sig)
    result = project.finish(process, timeout=60)
    assert result.returncode == code, result.stderr
    # Every user created on the server is in the recorder's file.
    assert len(recorded(project)) == created(project), result.stderr
    assert "Traceback" not in result.stderr
    if runners == "1":
        waiting = "waiting up to 30 s for 5 running journeys to finish (5 of graceful:create_user)"
        assert waiting in result.stderr, result.stderr
    else:
        # Each runner waits for its own share; an interrupted runner's exit is no news.
        assert result.stderr.count("waiting up to 30 s for ") == 2, result.stderr
        assert "exited with code" not in result.stderr, result.stderr


def test_a_second_interrupt_cancels_the_journeys_at_once(project):
    env = {"RESPONSE_SECONDS": "120"}
    process = project.start("scenario", "test", "graceful:scenario", env=env)
    wait_for_journeys(project, at_least=5)
    process.send_signal(signal.SIGINT)
    time.sleep(1.0)
    assert process.poll() is None, "the first interrupt waits for the journeys"
    process.send_signal(signal.SIGINT)
    result = project.finish(process, timeout=30)
    assert result.returncode == 130, result.stderr
    assert result.elapsed < 20, result.elapsed
    assert "Received another interrupt signal: cancelling 5 running journeys" in result.stderr


def test_journeys_still_running_at_the_end_of_the_grace_period_are_cancelled(project):
    env = {"RESPONSE_SECONDS": "120"}
    process = project.start("scenario", "test", "graceful:scenario", "--grace-period=1", env=env)
    wait_for_journeys(project, at_least=5)
    process.send_signal(signal.SIGTERM)
    result = project.finish(process, timeout=30)
    assert result.returncode == 143, result.stderr
    assert "waiting up to 1 s for 5 running journeys" in result.stderr, result.stderr
    assert "The grace period of 1 s is over: cancelling 5 journeys still running" in result.stderr


@pytest.mark.parametrize("value", ["-1", "nan"])
def test_a_bad_grace_period_is_one_line(project, value):
    result = project.run("scenario", "test", "graceful:scenario", f"--grace-period={value}")
    assert result.returncode == 1, result.stderr
    assert result.error_lines == [
        f"mite: error: --grace-period must be a number of seconds, 0 or more, not {value}"
    ], result.stderr

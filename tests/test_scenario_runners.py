"""`mite scenario test --runners N`: one command starting N runner processes, with one console,
one report and one set of recorder and collector files; a stop signal ends them all, losing
nothing they recorded; a killed runner does not stop the run."""

import os
import signal
import time

import msgpack
import pytest

FLEET = """\
import asyncio
import os

from mite.datapools import IterableDataPool
from mite.volume_model import Constant
from observe import observe

items = IterableDataPool([(n,) for n in range(120)])


async def record(ctx, n):
    async with ctx.transaction("Record"):
        await asyncio.sleep(0.1)
    ctx.send(
        "data_created",
        name="items",
        data={"n": n, "pid": os.getpid(), "greeting": ctx.config.get("greeting")},
    )


async def forever(ctx):
    ctx.send("data_created", name="started", data={"pid": os.getpid()})
    observe(pid=os.getpid())
    await asyncio.sleep(60)


async def brief(ctx):
    observe(pid=os.getpid())
    await asyncio.sleep(0.2)


def scenario(config):
    config.set("greeting", "hello")
    return [("fleet:record", items, Constant(tps=8, duration=60))]


def endless():
    return [("fleet:forever", None, Constant(tps=6, duration=60))]


async def slot(ctx):
    async with ctx.transaction("Slot"):
        await asyncio.sleep(0.02)


def held():
    return [("fleet:slot", None, Constant(tps=4, duration=3))]


def short():
    return [("fleet:brief", None, Constant(tps=4, duration=5))]


class TypeCounter:
    # A Python message processor: it runs in the command's process, seeing the runners'
    # messages.
    def __init__(self, options):
        self.out = open("processor-saw.txt", "a")

    def process_message(self, message):
        self.out.write(message["type"] + "\\n")
        self.out.flush()
"""


@pytest.fixture
def fleet(mite_project):
    mite_project.write("fleet.py", FLEET)
    return mite_project


def read_msgpack(path):
    with open(path, "rb") as handle:
        return list(msgpack.Unpacker(handle, raw=False, strict_map_key=False))


def collected(project):
    records = []
    for path in sorted((project.path / "collector_data").iterdir()):
        if path.name != "current_start_time" and not path.name.endswith("_start_time"):
            records += read_msgpack(path)
    return records


def most_at_once(txns):
    """The largest number of transactions open at one instant (an end before a start)."""
    edges = sorted([(m["end_time"], -1) for m in txns] + [(m["start_time"], 1) for m in txns])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_runners_keep_the_clusters_volume_of_journeys_without_a_datapool(fleet):
    # mite-rs runners hold these journeys as standing work and replace them themselves: the
    # cluster still runs exactly the volume model's 4 at once, never more.
    result = fleet.run("scenario", "test", "fleet:held", "--runners=2", timeout=60)
    assert result.returncode == 0, result.stderr
    slots = [m for m in collected(fleet) if m.get("transaction") == "__root__ :: Slot"]
    assert {m["runner_id"] for m in slots} == {1, 2}
    assert len(slots) >= 100
    assert most_at_once(slots) == 4


def test_runners_share_the_work_and_the_run_has_one_set_of_everything(fleet):
    processors = "mite.logoutput:HttpStatsOutput,mite.logoutput:MsgOutput,fleet:TypeCounter"
    result = fleet.run(
        "scenario",
        "test",
        "fleet:scenario",
        "--runners=2",
        "--report",
        f"--message-processors={processors}",
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "started 2 runner processes" in result.stderr
    output = result.stdout + result.stderr
    assert output.count("MITE Benchmark Report") == 1

    # Every item exactly once, from both runners, each with the config the scenario set.
    recorded = read_msgpack(fleet.path / "recorder-data" / "items.msgpack")
    assert sorted(r["n"] for r in recorded) == list(range(120))
    assert len({r["pid"] for r in recorded}) == 2
    assert {r["greeting"] for r in recorded} == {"hello"}
    assert os.getpid() not in {r["pid"] for r in recorded}

    messages = collected(fleet)
    txns = [m for m in messages if m["type"] == "txn"]
    assert {m["runner_id"] for m in txns} == {1, 2}
    assert sum(m["transaction"] == "__root__ :: Record" for m in txns) == 120
    assert any(m["type"] == "controller_report" for m in messages)

    saw = (fleet.path / "processor-saw.txt").read_text().split()
    assert saw.count("data_created") == 120


@pytest.mark.parametrize("stop, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_signal_ends_every_runner_and_keeps_what_they_recorded(fleet, stop, code):
    # Endless journeys: cancelled at the end of a short grace period.
    process = fleet.start("scenario", "test", "fleet:endless", "--runners=2", "--grace-period=1")
    deadline = time.monotonic() + 30
    while len(fleet.observed()) < 6 and time.monotonic() < deadline:
        time.sleep(0.1)
    started = fleet.observed()
    assert len(started) >= 6, (fleet.path / "mite-stderr.txt").read_text()
    process.send_signal(stop)
    result = fleet.finish(process, timeout=40)
    assert result.returncode == code, result.stderr
    pids = {o["pid"] for o in fleet.observed()}
    assert len(pids) == 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    recorded = read_msgpack(fleet.path / "recorder-data" / "started.msgpack")
    assert len(recorded) == len(fleet.observed())
    assert "Traceback" not in result.stderr


def test_a_killed_runner_is_reported_and_the_run_still_completes(fleet):
    process = fleet.start("scenario", "test", "fleet:short", "--runners=2")
    deadline = time.monotonic() + 30
    while len({o["pid"] for o in fleet.observed()}) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    pids = sorted({o["pid"] for o in fleet.observed()})
    assert len(pids) == 2, (fleet.path / "mite-stderr.txt").read_text()
    os.kill(pids[0], signal.SIGKILL)
    result = fleet.finish(process, timeout=40)
    assert result.returncode == 0, result.stderr
    assert f"runner process {pids[0]} was killed by signal 9" in result.stderr
    assert any(o["pid"] == pids[1] for o in fleet.observed()[-3:])


def test_auto_starts_one_runner_per_usable_cpu(fleet):
    result = fleet.run("scenario", "test", "fleet:short", "--runners=auto", timeout=60)
    assert result.returncode == 0, result.stderr
    cpus = len(os.sched_getaffinity(0))
    if cpus == 1:
        assert "runner processes" not in result.stderr
    else:
        assert f"started {cpus} runner processes" in result.stderr
        assert len({o["pid"] for o in fleet.observed()}) == cpus


@pytest.mark.parametrize(
    "args, error",
    [
        (["scenario", "test", "fleet:short", "--runners=0"], "is not a number of runners"),
        (["scenario", "test", "fleet:short", "--runners=many"], "is not a number of runners"),
        (["journey", "run", "fleet:brief", "--runners=2"], "--runners applies to scenario test"),
        (
            ["scenario", "test", "fleet:short", "--runners=2", "--debugging"],
            "use it with --runners=1",
        ),
    ],
)
def test_bad_runner_counts_and_combinations_are_one_line(fleet, args, error):
    result = fleet.run(*args)
    assert result.returncode == 1
    assert error in result.stderr
    assert "Traceback" not in result.stderr

"""`mite.controller.Controller` (mite's controller as a Python class) with `mite.runner.Runner`
through `mite.zmq`'s transport classes over loopback ZeroMQ."""

import asyncio
import sys
import types

from conftest import free_port

from mite import zmq
from mite.config import ConfigManager
from mite.controller import Controller, WorkTracker
from mite.datapools import IterableDataPool
from mite.runner import Runner
from mite.scenario import ScenarioManager

journeys = types.ModuleType("controller_class_journeys")


async def _note(ctx, n):
    ctx.send("note", n=n)
    await asyncio.sleep(0.01)


journeys.note = _note
sys.modules["controller_class_journeys"] = journeys


def test_work_tracker_adds_assumed_work_to_what_runners_report():
    tracker = WorkTracker()
    tracker.set_actual(1, {1: 2})
    tracker.add_assumed(1, {1: 1, 2: 1})
    tracker.set_actual(2, {1: 1})
    assert tracker.get_total_work([1, 2]) == {1: 4, 2: 1}
    assert tracker.get_runner_total(1) == 4
    tracker.set_actual(1, {})
    assert tracker.get_total_work([1, 2]) == {1: 1}
    tracker.remove_runner(2)
    assert tracker.get_total_work([1, 2]) == {}


def test_a_python_controller_serves_a_python_runner_over_zmq():
    address = f"tcp://127.0.0.1:{free_port()}"
    config = ConfigManager()
    config.set("colour", "teal")
    manager = ScenarioManager()
    manager.add_scenario(
        "controller_class_journeys:note", IterableDataPool([(i,) for i in range(6)]), lambda s, e: 2
    )
    controller = Controller("class:test", manager, config)
    server = zmq.ControllerServer(address)
    sent = []

    async def main():
        runner = Runner(zmq.RunnerTransport(address), sent.append, loop_wait_max=0.05)
        serving = asyncio.get_running_loop().run_in_executor(
            None, lambda: asyncio.run(server.run(controller, controller.should_stop))
        )
        await runner.run()
        await serving

    asyncio.run(main())
    assert sorted(m["n"] for m in sent if m["type"] == "note") == list(range(6))
    assert controller.should_stop()
    reports = []
    controller.report(reports.append)
    assert reports[0]["num_runners"] == 0 and reports[0]["test"] == "class:test"

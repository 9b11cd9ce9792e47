"""`mite.runner.Runner`: mite's runner loop over its transport protocol, driven by a
transport written here (no sockets)."""

import asyncio
import sys
import types

import pytest

from mite.exceptions import MiteError
from mite.runner import Runner

journeys = types.ModuleType("runner_class_journeys")


async def _note(ctx, n):
    ctx.send("note", n=n, seen=ctx.config.get("colour"))
    await asyncio.sleep(0.01)


async def _boom(ctx, n):
    raise ValueError(f"boom {n}")


async def _mite_error(ctx):
    raise MiteError("mind the gap")


journeys.note, journeys.boom, journeys.mite_error = _note, _boom, _mite_error
sys.modules["runner_class_journeys"] = journeys


class Transport:
    """Hands out `work` over the first requests (two at a time), then says stop."""

    def __init__(self, work):
        self.work = list(work)
        self.requests = []
        self.said_bye = None

    async def hello(self):
        return 4, "class:test", (("colour", "teal"),)

    async def request_work(self, runner_id, current_work, completed, max_work):
        self.requests.append((runner_id, dict(current_work), list(completed), max_work))
        batch, self.work = self.work[:2], self.work[2:]
        return batch, [], not self.work

    async def bye(self, runner_id):
        self.said_bye = runner_id


def run(transport, **kwargs):
    sent = []
    asyncio.run(Runner(transport, sent.append, **kwargs).run())
    return sent


def test_work_runs_with_the_hellos_ids_and_config_and_items_come_back():
    transport = Transport([(1, i, "runner_class_journeys:note", (i,)) for i in range(1, 6)])
    sent = run(transport, loop_wait_max=0.05, max_work=3)
    notes = [m for m in sent if m["type"] == "note"]
    assert sorted(m["n"] for m in notes) == [1, 2, 3, 4, 5]
    assert {m["seen"] for m in notes} == {"teal"}
    assert {(m["test"], m["runner_id"], m["journey"]) for m in notes} == {
        ("class:test", 4, "runner_class_journeys:note")
    }
    assert sorted(m["context_id"] for m in notes) == [1, 2, 3, 4, 5]
    assert sorted(m["transaction"] for m in notes) == ["__root__"] * 5
    completed = sorted(pair for _, _, done, _ in transport.requests for pair in done)
    assert completed == [(1, i) for i in range(1, 6)]
    assert transport.requests[0][3] == 3
    assert transport.requests[-1][3] == 0 and transport.requests[-1][1] == {}
    assert transport.said_bye == 4
    txns = [m for m in sent if m["type"] == "txn"]
    assert len(txns) == 5


def test_journey_errors_are_reported_and_the_run_goes_on():
    transport = Transport(
        [
            (1, 1, "runner_class_journeys:boom", (1,)),
            (2, None, "runner_class_journeys:mite_error", None),
            (1, 2, "runner_class_journeys:note", (2,)),
        ]
    )
    sent = run(transport, loop_wait_max=0.05)
    exceptions = [m for m in sent if m["type"] == "exception"]
    assert [m["message"] for m in exceptions] == ["ValueError: boom 1"]
    errors = [m for m in sent if m["type"] == "error"]
    assert [m["message"] for m in errors] == ["mite.exceptions.MiteError: mind the gap"]
    assert [m["n"] for m in sent if m["type"] == "note"] == [2]
    # A journey without a datapool item is not reported as a completed id.
    completed = sorted(pair for _, _, done, _ in transport.requests for pair in done)
    assert completed == [(1, 1), (1, 2)]
    assert transport.said_bye == 4


def test_a_journey_that_cannot_be_imported_ends_the_run():
    transport = Transport([(1, 1, "runner_class_journeys:missing", (1,))])
    with pytest.raises(AttributeError):
        run(transport, loop_wait_max=0.05)

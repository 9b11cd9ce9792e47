"""asyncio keeps working inside journeys run by `mite scenario test`.

Each test writes a journey module into a temporary directory, runs the `mite` CLI on it once
with the Rust coroutine driver and once with `--asyncio-tasks`, and reads back what each
journey reported with ``ctx.send("data_created", name="observations", data=...)``.
"""

import subprocess
import sys
import textwrap

import msgpack
import pytest

PRELUDE = """\
import asyncio
from contextvars import ContextVar

from mite.context import active_transaction
from mite.datapools import IterableDataPool


def report(ctx, **observed):
    ctx.send("data_created", name="observations", data=observed)


def scenario():
    pool = IterableDataPool([(n,) for n in range({journeys})])
    return [["journeys:journey", pool, lambda start, end: {concurrency}]]

"""


@pytest.fixture(
    params=[pytest.param([], id="rust-driver"), pytest.param(["--asyncio-tasks"], id="tasks")]
)
def run_journeys(request, tmp_path):
    """Runs ``journey(ctx, n)`` from ``source`` once for each n in range(journeys).

    Returns the observations the journeys reported, in the order they were recorded.
    """

    def run(source, journeys=1, concurrency=1):
        module = PRELUDE.format(journeys=journeys, concurrency=concurrency)
        (tmp_path / "journeys.py").write_text(module + textwrap.dedent(source))
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "mite",
                "scenario",
                "test",
                "journeys:scenario",
                "--hide-constant-logs",
                "--recorder-dir=recorder-data",
                "--collector-dir=collector_data",
                *request.param,
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        with open(tmp_path / "recorder-data" / "observations.msgpack", "rb") as f:
            observations = list(msgpack.Unpacker(f, raw=False))
        assert len(observations) == journeys, observations
        return observations

    return run


def collected_messages(directory):
    """Every message the in-process collector wrote during the run."""
    with open(directory / "collector_data" / "current", "rb") as f:
        return list(msgpack.Unpacker(f, raw=False, strict_map_key=False))


# asyncio.sleep


def test_asyncio_sleep_waits_at_least_the_delay(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            loop = asyncio.get_running_loop()
            start = loop.time()
            await asyncio.sleep(0.05)
            report(ctx, elapsed=loop.time() - start)
        """
    )

    assert 0.049 <= observed["elapsed"] < 1.0


def test_asyncio_sleep_returns_its_result(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            report(
                ctx,
                zero=await asyncio.sleep(0, result="zero"),
                short=await asyncio.sleep(0.01, result="short"),
            )
        """
    )

    assert observed == {"zero": "zero", "short": "short"}


def test_asyncio_sleep_zero_lets_a_waiting_task_run_first(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            order = []

            async def other():
                order.append("other task")

            task = asyncio.create_task(other())
            order.append("before sleep(0)")
            await asyncio.sleep(0)
            order.append("after sleep(0)")
            await task
            report(ctx, order=order)
        """
    )

    assert observed["order"] == ["before sleep(0)", "other task", "after sleep(0)"]


def test_many_asyncio_sleep_zero_calls_complete(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            for _ in range(1000):
                await asyncio.sleep(0)
            report(ctx, done=True)
        """
    )

    assert observed == {"done": True}


# asyncio.gather


def test_gather_runs_sub_coroutines_concurrently(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            loop = asyncio.get_running_loop()
            start = loop.time()
            results = await asyncio.gather(*(asyncio.sleep(0.3, result=i) for i in range(3)))
            report(ctx, results=results, elapsed=loop.time() - start)
        """
    )

    assert observed["results"] == [0, 1, 2]
    assert 0.29 <= observed["elapsed"] < 0.75


def test_gather_raises_a_sub_coroutines_exception_in_the_journey(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            async def fails():
                await asyncio.sleep(0.01)
                raise ValueError("sub-coroutine failed")

            try:
                await asyncio.gather(asyncio.sleep(0.01), fails())
            except ValueError as e:
                report(ctx, caught=str(e))
        """
    )

    assert observed == {"caught": "sub-coroutine failed"}


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is new in 3.11")
def test_task_group_failure_cancels_siblings_and_reaches_the_journey_as_a_group(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            events = []

            async def slow():
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    events.append("sibling cancelled")
                    raise

            async def fails():
                await asyncio.sleep(0.01)
                raise ValueError("child failed")

            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(slow())
                    group.create_task(fails())
            except* ValueError as group_error:
                events.append([str(e) for e in group_error.exceptions])
            report(ctx, events=events)
        """
    )

    assert observed == {"events": ["sibling cancelled", ["child failed"]]}


def test_run_in_executor_result_is_awaited_in_the_journey(run_journeys):
    [observed] = run_journeys(
        """
        import threading


        async def journey(ctx, n):
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(None, threading.current_thread().name.upper)
            thread = await loop.run_in_executor(None, lambda: threading.current_thread().name)
            report(ctx, result=result, ran_elsewhere=thread != threading.current_thread().name)
        """
    )

    assert observed == {"result": "MAINTHREAD", "ran_elsewhere": True}


# asyncio.wait_for and asyncio.timeout


def test_wait_for_without_timeout_returns_the_result(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            report(ctx, result=await asyncio.wait_for(asyncio.sleep(0.01, result="done"), None))
        """
    )

    assert observed == {"result": "done"}


def test_wait_for_returns_the_result_within_the_timeout(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            report(ctx, result=await asyncio.wait_for(asyncio.sleep(0.01, result="done"), 5))
        """
    )

    assert observed == {"result": "done"}


def test_wait_for_raises_timeout_error_when_the_timeout_expires(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            loop = asyncio.get_running_loop()
            start = loop.time()
            try:
                await asyncio.wait_for(asyncio.sleep(10), 0.05)
            except asyncio.TimeoutError:
                caught = True
            else:
                caught = False
            elapsed = loop.time() - start
            await asyncio.sleep(0.01)
            report(ctx, caught=caught, elapsed=elapsed)
        """
    )

    assert observed["caught"] is True
    assert 0.049 <= observed["elapsed"] < 1.0


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in 3.11")
def test_asyncio_timeout_raises_timeout_error_the_journey_catches(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            loop = asyncio.get_running_loop()
            start = loop.time()
            try:
                async with asyncio.timeout(0.05):
                    await asyncio.sleep(10)
            except TimeoutError:
                caught = True
            else:
                caught = False
            elapsed = loop.time() - start
            await asyncio.sleep(0.01)
            report(ctx, caught=caught, elapsed=elapsed)
        """
    )

    assert observed["caught"] is True
    assert 0.049 <= observed["elapsed"] < 1.0


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in 3.11")
def test_asyncio_timeout_leaves_the_journey_task_uncancelled(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            try:
                async with asyncio.timeout(0.01):
                    await asyncio.sleep(10)
            except TimeoutError:
                pass
            report(ctx, cancelling=asyncio.current_task().cancelling())
        """
    )

    assert observed == {"cancelling": 0}


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in 3.11")
def test_asyncio_timeout_not_reached_lets_the_block_finish(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            async with asyncio.timeout(5):
                result = await asyncio.sleep(0.01, result="finished")
            report(ctx, result=result)
        """
    )

    assert observed == {"result": "finished"}


# asyncio.current_task


def test_current_task_is_not_none_inside_a_journey(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            report(ctx, has_task=asyncio.current_task() is not None)
        """
    )

    assert observed == {"has_task": True}


def test_current_task_is_the_same_object_across_awaits(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            first = asyncio.current_task()
            await asyncio.sleep(0.01)
            second = asyncio.current_task()
            await asyncio.wait_for(asyncio.sleep(0.01), 1)
            third = asyncio.current_task()
            report(ctx, same=first is second and second is third)
        """
    )

    assert observed == {"same": True}


def test_current_task_differs_between_journeys(run_journeys):
    observations = run_journeys(
        """
        SEEN = []  # keeps every task alive, so no two can share an id by reuse


        async def journey(ctx, n):
            task = asyncio.current_task()
            seen_before = any(other is task for other in SEEN)
            SEEN.append(task)
            await asyncio.sleep(0.05)
            report(ctx, seen_before=seen_before)
        """,
        journeys=4,
        concurrency=2,
    )

    assert [observed["seen_before"] for observed in observations] == [False] * 4


# cancellation


def test_cancelling_a_sub_task_cancels_only_the_sub_task(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            events = []

            async def sub():
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    events.append("sub cancelled")
                    raise

            task = asyncio.create_task(sub())
            await asyncio.sleep(0.01)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                events.append("await raised CancelledError")
            await asyncio.sleep(0.01)
            events.append("journey continued")
            report(ctx, events=events, cancelled=task.cancelled())
        """
    )

    assert observed == {
        "events": ["sub cancelled", "await raised CancelledError", "journey continued"],
        "cancelled": True,
    }


# ctx.send


def test_awaited_ctx_send_records_the_message_once(run_journeys, tmp_path):
    run_journeys(
        """
        async def journey(ctx, n):
            await ctx.send("data_created", name="observations", data={"awaited": True})
        """
    )

    sent = [msg for msg in collected_messages(tmp_path) if msg.get("type") == "data_created"]
    assert [msg["data"] for msg in sent] == [{"awaited": True}]


# transactions and context variables


def test_transaction_in_a_gathered_sub_coroutine_inherits_the_outer_name(run_journeys):
    [observed] = run_journeys(
        """
        async def journey(ctx, n):
            async def sub(name):
                async with ctx.transaction(name):
                    await asyncio.sleep(0.01)
                    return active_transaction.get()[0]

            async with ctx.transaction("outer"):
                names = await asyncio.gather(sub("a"), sub("b"))
            report(ctx, names=names)
        """
    )

    assert observed == {"names": ["__root__ :: outer :: a", "__root__ :: outer :: b"]}


def test_txn_messages_of_gathered_sub_transactions_carry_the_nested_name(run_journeys, tmp_path):
    run_journeys(
        """
        async def journey(ctx, n):
            async def sub(name):
                async with ctx.transaction(name):
                    await asyncio.sleep(0.01)

            async with ctx.transaction("outer"):
                await asyncio.gather(sub("a"), sub("b"))
            report(ctx, done=True)
        """
    )

    txns = [msg for msg in collected_messages(tmp_path) if msg.get("type") == "txn"]
    assert sorted(msg["transaction"] for msg in txns) == [
        "__root__",
        "__root__ :: outer",
        "__root__ :: outer :: a",
        "__root__ :: outer :: b",
    ]


def test_context_var_set_in_one_journey_is_invisible_to_another(run_journeys):
    observations = run_journeys(
        """
        VAR = ContextVar("VAR", default="unset")


        async def journey(ctx, n):
            before = VAR.get()
            VAR.set(n)
            await asyncio.sleep(0.05)
            report(ctx, n=n, before=before, after=VAR.get())
        """,
        journeys=4,
        concurrency=2,
    )

    assert sorted((o["n"], o["before"], o["after"]) for o in observations) == [
        (n, "unset", n) for n in range(4)
    ]

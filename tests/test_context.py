import asyncio
import contextvars
import gc
import sys
import time
import types
import warnings

import pytest

import mite
import mite.context
from mite.context import Context, active_transaction
from mite.datapools import DataPoolExhausted
from mite.exceptions import MiteError

ENVELOPE = ["type", "time", "transaction", "transaction_id"]


def make_context(**kwargs):
    """A Context whose messages are appended to the returned list."""
    sent = []
    return Context(sent.append, kwargs.pop("config", {}), **kwargs), sent


def _raise_from_helper(exc):
    raise exc


RAISE_LINE = _raise_from_helper.__code__.co_firstlineno + 1
RAISE_LOCATION = f"{__file__}:{RAISE_LINE}:_raise_from_helper"


async def fail_in_transaction(ctx, exc, name="txn"):
    """Raise ``exc`` (from a helper frame) inside ``ctx.transaction(name)``; swallow it after."""
    try:
        async with ctx.transaction(name):
            _raise_from_helper(exc)
    except BaseException as caught:
        assert caught is exc
    else:
        pytest.fail("the exception did not propagate out of the transaction")


def by_type(sent, type_):
    return [msg for msg in sent if msg["type"] == type_]


# ctx.send


def test_send_calls_send_fn_once_with_a_dict():
    ctx, sent = make_context()

    ctx.send("hello", a=1)

    assert len(sent) == 1
    assert type(sent[0]) is dict


def test_send_puts_user_fields_first_then_type_time_transaction_keys():
    ctx, sent = make_context()

    ctx.send("hello", b=2, a=1)

    assert list(sent[0]) == ["b", "a", *ENVELOPE]


def test_send_sets_type_from_the_first_argument():
    ctx, sent = make_context()

    ctx.send("custom_type", a=1)

    assert sent[0]["type"] == "custom_type"
    assert sent[0]["a"] == 1


def test_send_stamps_the_current_epoch_time_as_a_float():
    ctx, sent = make_context()

    before = time.time()
    ctx.send("hello")
    after = time.time()

    assert type(sent[0]["time"]) is float
    assert before <= sent[0]["time"] <= after


def test_send_outside_a_transaction_has_none_transaction_and_id():
    ctx, sent = make_context()

    ctx.send("hello")

    assert sent[0]["transaction"] is None
    assert sent[0]["transaction_id"] is None


def test_send_puts_id_data_keys_between_time_and_transaction():
    ctx, sent = make_context(id_data={"test": "mod:scenario", "runner_id": 7})

    ctx.send("hello", a=1)

    assert list(sent[0]) == [
        "a",
        "type",
        "time",
        "test",
        "runner_id",
        "transaction",
        "transaction_id",
    ]
    assert (sent[0]["test"], sent[0]["runner_id"]) == ("mod:scenario", 7)


def test_send_overwrites_user_fields_named_like_envelope_keys():
    ctx, sent = make_context()

    ctx.send("hello", time="user time", transaction="mine", transaction_id=99)

    assert sent[0]["time"] != "user time"
    assert type(sent[0]["time"]) is float
    assert sent[0]["transaction"] is None
    assert sent[0]["transaction_id"] is None


def test_send_overwrites_user_fields_named_like_id_data_keys():
    ctx, sent = make_context(id_data={"runner_id": 7})

    ctx.send("hello", runner_id="user value")

    assert sent[0]["runner_id"] == 7


def test_send_builds_a_new_dict_for_each_message():
    ctx, sent = make_context()

    ctx.send("hello", a=1)
    ctx.send("hello", a=1)

    assert sent[0] is not sent[1]


def test_awaiting_send_sends_once_and_returns_none():
    ctx, sent = make_context()

    async def journey():
        return await ctx.send("hello", a=1)

    assert asyncio.run(journey()) is None
    assert len(sent) == 1
    assert sent[0]["a"] == 1


def test_send_result_left_unawaited_warns_about_nothing():
    ctx, _ = make_context()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = ctx.send("hello")
        del result
        gc.collect()

    assert [str(w.message) for w in caught] == []


def test_send_reads_the_transaction_from_the_active_transaction_contextvar():
    ctx, sent = make_context()

    def send_with_var_set():
        active_transaction.set(("set by hand", 42))
        ctx.send("hello")

    contextvars.copy_context().run(send_with_var_set)

    assert (sent[0]["transaction"], sent[0]["transaction_id"]) == ("set by hand", 42)


# config, should_stop, attributes


def test_config_is_the_object_passed_in():
    config = {"app_url": "http://127.0.0.1:8000"}
    ctx = Context(print, config)

    assert ctx.config is config


def test_config_is_read_only():
    ctx = Context(print, {})

    with pytest.raises(AttributeError):
        ctx.config = {}


def test_should_stop_is_false_without_a_should_stop_func():
    ctx = Context(print, {})

    assert ctx.should_stop is False


def test_should_stop_asks_should_stop_func_on_every_access():
    answers = iter([False, True])
    ctx = Context(print, {}, should_stop_func=lambda: next(answers))

    assert ctx.should_stop is False
    assert ctx.should_stop is True


def test_arbitrary_attributes_can_be_set_on_a_context():
    ctx = Context(print, {})

    ctx.http = "session"
    ctx.fixture_value = 42

    assert (ctx.http, ctx.fixture_value) == ("session", 42)


def test_arbitrary_attributes_can_be_deleted_from_a_context():
    ctx = Context(print, {})
    ctx.http = "session"

    del ctx.http

    assert not hasattr(ctx, "http")


def test_deleting_http_that_is_not_set_raises_attribute_error():
    ctx = Context(print, {})

    with pytest.raises(AttributeError):
        del ctx.http
    with pytest.raises(AttributeError, match="'Context' object has no attribute 'http'"):
        ctx.http  # noqa: B018 - the attribute access is the test


def test_context_is_reexported_from_the_top_level_package():
    assert mite.Context is Context


def test_active_transaction_is_a_context_var():
    assert isinstance(mite.context.active_transaction, contextvars.ContextVar)


# transactions: names, ids, txn messages


def test_transaction_yields_none():
    ctx, _ = make_context()

    async def journey():
        async with ctx.transaction("a") as value:
            return value

    assert asyncio.run(journey()) is None


def test_send_inside_a_transaction_carries_its_name_and_id():
    ctx, sent = make_context()

    async def journey():
        async with ctx.transaction("Log in"):
            ctx.send("hello")

    asyncio.run(journey())

    assert (sent[0]["transaction"], sent[0]["transaction_id"]) == ("Log in", 1)


def test_transaction_sets_active_transaction_to_name_and_id():
    ctx, _ = make_context()

    async def journey():
        async with ctx.transaction("a"):
            return active_transaction.get()

    assert asyncio.run(journey()) == ("a", 1)


def test_transaction_restores_active_transaction_on_exit():
    ctx, _ = make_context()

    async def journey():
        before = active_transaction.get(None)
        async with ctx.transaction("a"):
            pass
        return before, active_transaction.get(None)

    assert asyncio.run(journey()) == (None, None)


def test_nested_transaction_names_join_with_space_colon_colon_space():
    ctx, sent = make_context()

    async def journey():
        async with ctx.transaction("a"):
            async with ctx.transaction("b"):
                async with ctx.transaction("c"):
                    ctx.send("hello")

    asyncio.run(journey())

    assert by_type(sent, "hello")[0]["transaction"] == "a :: b :: c"


def test_send_after_inner_transaction_is_back_in_the_outer_one():
    ctx, sent = make_context()

    async def journey():
        async with ctx.transaction("a"):
            async with ctx.transaction("b"):
                pass
            ctx.send("hello")

    asyncio.run(journey())

    hello = by_type(sent, "hello")[0]
    assert (hello["transaction"], hello["transaction_id"]) == ("a", 1)


def test_transaction_ids_count_1_2_3_per_context():
    ctx, sent = make_context()

    async def journey():
        async with ctx.transaction("a"):
            async with ctx.transaction("b"):
                pass
        async with ctx.transaction("c"):
            pass

    asyncio.run(journey())

    ids = {msg["transaction"]: msg["transaction_id"] for msg in by_type(sent, "txn")}
    assert ids == {"a": 1, "a :: b": 2, "c": 3}


def test_each_context_has_its_own_transaction_id_counter():
    first, first_sent = make_context()
    second, second_sent = make_context()

    async def journey(ctx):
        async with ctx.transaction("a"):
            pass

    asyncio.run(journey(first))
    asyncio.run(journey(first))
    asyncio.run(journey(second))

    assert [m["transaction_id"] for m in first_sent] == [1, 2]
    assert [m["transaction_id"] for m in second_sent] == [1]


def test_transaction_sends_one_txn_message_on_normal_exit():
    ctx, sent = make_context()

    async def journey():
        async with ctx.transaction("a"):
            pass

    asyncio.run(journey())

    assert [msg["type"] for msg in sent] == ["txn"]
    assert sent[0]["had_error"] is False


def test_txn_message_fields_are_start_time_end_time_had_error_then_envelope():
    ctx, sent = make_context()

    async def journey():
        async with ctx.transaction("a"):
            pass

    asyncio.run(journey())

    assert list(sent[0]) == ["start_time", "end_time", "had_error", *ENVELOPE]


def test_txn_start_and_end_times_are_epoch_floats_around_the_body():
    ctx, sent = make_context()

    async def journey():
        async with ctx.transaction("a"):
            await asyncio.sleep(0.05)

    before = time.time()
    asyncio.run(journey())
    after = time.time()

    txn = sent[0]
    assert type(txn["start_time"]) is float and type(txn["end_time"]) is float
    assert before <= txn["start_time"] <= txn["end_time"] <= after
    assert txn["end_time"] - txn["start_time"] >= 0.04


def test_txn_carries_the_transactions_own_name_and_id():
    ctx, sent = make_context()

    async def journey():
        async with ctx.transaction("a"):
            async with ctx.transaction("b"):
                pass

    asyncio.run(journey())

    txns = [(m["transaction"], m["transaction_id"]) for m in by_type(sent, "txn")]
    assert txns == [("a :: b", 2), ("a", 1)]


# transactions: errors


def test_mite_error_sends_an_error_message():
    ctx, sent = make_context()

    asyncio.run(fail_in_transaction(ctx, MiteError("login failed", status=500)))

    error = by_type(sent, "error")[0]
    assert error["message"] == "mite.exceptions.MiteError: login failed"
    assert error["ex_type"] == "MiteError"
    assert error["status"] == 500


def test_error_message_fields_are_message_ex_type_location_then_mite_error_fields():
    ctx, sent = make_context()

    asyncio.run(fail_in_transaction(ctx, MiteError("x", status=500, user="alice")))

    error = by_type(sent, "error")[0]
    assert list(error) == ["message", "ex_type", "location", "status", "user", *ENVELOPE]


def test_error_message_location_is_file_line_function_of_the_raising_frame():
    ctx, sent = make_context()

    asyncio.run(fail_in_transaction(ctx, MiteError("x")))

    assert by_type(sent, "error")[0]["location"] == RAISE_LOCATION


def test_error_message_carries_the_failing_transaction():
    ctx, sent = make_context()

    asyncio.run(fail_in_transaction(ctx, MiteError("x"), name="Log in"))

    error = by_type(sent, "error")[0]
    assert (error["transaction"], error["transaction_id"]) == ("Log in", 1)


def test_other_exception_sends_an_exception_message():
    ctx, sent = make_context()

    asyncio.run(fail_in_transaction(ctx, ValueError("bad")))

    assert by_type(sent, "error") == []
    exception = by_type(sent, "exception")[0]
    assert exception["message"] == "ValueError: bad"
    assert exception["ex_type"] == "ValueError"
    assert exception["location"] == RAISE_LOCATION


def test_exception_message_fields_are_message_ex_type_location_stacktrace():
    ctx, sent = make_context()

    asyncio.run(fail_in_transaction(ctx, ValueError("bad")))

    exception = by_type(sent, "exception")[0]
    assert list(exception) == ["message", "ex_type", "location", "stacktrace", *ENVELOPE]


def test_exception_stacktrace_is_a_formatted_traceback_showing_the_raising_line():
    ctx, sent = make_context()

    asyncio.run(fail_in_transaction(ctx, ValueError("bad")))

    stacktrace = by_type(sent, "exception")[0]["stacktrace"]
    assert f'File "{__file__}", line {RAISE_LINE}, in _raise_from_helper' in stacktrace
    assert "raise exc" in stacktrace


Oops = type("Oops", (Exception,), {"__module__": "mypkg.errors"})
Plain = type("Plain", (Exception,), {"__module__": "__main__"})


@pytest.mark.parametrize(
    "exc, expected",
    [
        (ValueError("bad"), "ValueError: bad"),
        (KeyError("k"), "KeyError: 'k'"),
        (Oops("x"), "mypkg.errors.Oops: x"),
        (Plain("x"), "Plain: x"),
        (ValueError(), "ValueError"),
        (Plain(), "Plain"),
        (Oops(), "mypkg.errors.Oops"),
    ],
)
def test_exception_message_is_the_last_line_of_format_exception_only(exc, expected):
    ctx, sent = make_context()

    asyncio.run(fail_in_transaction(ctx, exc))

    assert by_type(sent, "exception")[0]["message"] == expected


def test_mite_error_with_empty_message_reports_just_the_qualified_name():
    ctx, sent = make_context()

    asyncio.run(fail_in_transaction(ctx, MiteError("")))

    assert by_type(sent, "error")[0]["message"] == "mite.exceptions.MiteError"


def test_user_subclass_of_mite_error_is_qualified_with_its_own_module():
    UserError = type("UserError", (MiteError,), {"__module__": "mypkg.errors"})
    ctx, sent = make_context()

    asyncio.run(fail_in_transaction(ctx, UserError("nope", code=3)))

    error = by_type(sent, "error")[0]
    assert (error["message"], error["ex_type"], error["code"]) == (
        "mypkg.errors.UserError: nope",
        "UserError",
        3,
    )


@pytest.mark.skipif(sys.version_info < (3, 11), reason="add_note is 3.11+")
def test_exception_with_notes_reports_its_last_note_line():
    exc = ValueError("bad")
    exc.add_note("first note")
    exc.add_note("last note")
    ctx, sent = make_context()

    asyncio.run(fail_in_transaction(ctx, exc))

    assert by_type(sent, "exception")[0]["message"] == "last note"


def test_error_message_is_sent_before_the_txn():
    ctx, sent = make_context()

    asyncio.run(fail_in_transaction(ctx, MiteError("x")))

    assert [msg["type"] for msg in sent] == ["error", "txn"]
    assert sent[1]["had_error"] is True


def test_exception_propagates_out_of_the_transaction_unchanged():
    ctx, _ = make_context()
    exc = ValueError("bad")

    async def journey():
        async with ctx.transaction("a"):
            raise exc

    with pytest.raises(ValueError) as caught:
        asyncio.run(journey())

    assert caught.value is exc


def test_reported_exception_is_marked_handled():
    ctx, _ = make_context()
    exc = ValueError("bad")

    asyncio.run(fail_in_transaction(ctx, exc))

    assert exc.handled is True


def test_nested_transactions_report_an_exception_once_from_the_innermost():
    ctx, sent = make_context()

    async def journey():
        async with ctx.transaction("a"):
            async with ctx.transaction("b"):
                raise ValueError("bad")

    with pytest.raises(ValueError):
        asyncio.run(journey())

    assert [msg["type"] for msg in sent] == ["exception", "txn", "txn"]
    assert sent[0]["transaction"] == "a :: b"


def test_nested_transactions_all_have_had_error_true():
    ctx, sent = make_context()

    async def journey():
        async with ctx.transaction("a"):
            async with ctx.transaction("b"):
                async with ctx.transaction("c"):
                    raise MiteError("x")

    with pytest.raises(MiteError):
        asyncio.run(journey())

    assert [(m["transaction"], m["had_error"]) for m in by_type(sent, "txn")] == [
        ("a :: b :: c", True),
        ("a :: b", True),
        ("a", True),
    ]


def test_exception_caught_inside_the_outer_transaction_leaves_it_without_error():
    ctx, sent = make_context()

    async def journey():
        async with ctx.transaction("a"):
            try:
                async with ctx.transaction("b"):
                    raise ValueError("bad")
            except ValueError:
                pass

    asyncio.run(journey())

    assert [(m["transaction"], m["had_error"]) for m in by_type(sent, "txn")] == [
        ("a :: b", True),
        ("a", False),
    ]


@pytest.mark.parametrize("handled", [True, False, None])
def test_preset_handled_attribute_suppresses_the_report(handled):
    ctx, sent = make_context()
    exc = ValueError("bad")
    exc.handled = handled

    asyncio.run(fail_in_transaction(ctx, exc))

    assert [msg["type"] for msg in sent] == ["txn"]
    assert sent[0]["had_error"] is True


@pytest.mark.parametrize("exc_class", [asyncio.CancelledError, DataPoolExhausted])
def test_base_exception_gives_had_error_false_and_no_report(exc_class):
    ctx, sent = make_context()
    exc = exc_class()

    asyncio.run(fail_in_transaction(ctx, exc))

    assert [msg["type"] for msg in sent] == ["txn"]
    assert sent[0]["had_error"] is False
    assert not hasattr(exc, "handled")


def test_transaction_restores_active_transaction_after_an_exception():
    ctx, _ = make_context()

    async def journey():
        async with ctx.transaction("a"):
            try:
                async with ctx.transaction("b"):
                    raise ValueError("bad")
            except ValueError:
                pass
            return active_transaction.get()

    assert asyncio.run(journey()) == ("a", 1)


def test_debug_context_runs_the_post_mortem_hook_then_exits_1(monkeypatch):
    handling = []
    hooks = types.ModuleType("post_mortem_hooks")
    hooks.hook = lambda: handling.append(sys.exc_info()[1])
    monkeypatch.setitem(sys.modules, "post_mortem_hooks", hooks)
    monkeypatch.setenv("PYTHONPOSTMORTEM", "post_mortem_hooks.hook")
    ctx, sent = make_context(debug=True)
    exc = ValueError("bad")

    async def journey():
        async with ctx.transaction("a"):
            raise exc

    with pytest.raises(SystemExit) as caught:
        asyncio.run(journey())

    assert caught.value.code == 1
    assert handling == [exc]
    assert [msg["type"] for msg in sent] == ["exception", "txn"]


# transactions across tasks


def test_concurrent_tasks_have_independent_transaction_stacks():
    ctx, sent = make_context()

    async def step(name):
        async with ctx.transaction(name):
            await asyncio.sleep(0.01)
            ctx.send("hello", step=name)

    async def journey():
        await asyncio.gather(step("first"), step("second"))

    asyncio.run(journey())

    assert {m["step"]: m["transaction"] for m in by_type(sent, "hello")} == {
        "first": "first",
        "second": "second",
    }


def test_concurrent_transactions_of_one_context_get_distinct_ids():
    ctx, sent = make_context()

    async def step(name):
        async with ctx.transaction(name):
            await asyncio.sleep(0.01)

    async def journey():
        await asyncio.gather(step("first"), step("second"))

    asyncio.run(journey())

    assert sorted(m["transaction_id"] for m in by_type(sent, "txn")) == [1, 2]


def test_task_started_inside_a_transaction_inherits_its_name():
    ctx, sent = make_context()

    async def step():
        async with ctx.transaction("inner"):
            ctx.send("hello")

    async def journey():
        async with ctx.transaction("outer"):
            await asyncio.gather(step())

    asyncio.run(journey())

    assert by_type(sent, "hello")[0]["transaction"] == "outer :: inner"


# mite.test_context


def test_test_context_prints_each_sent_message(capsys):
    ctx = mite.test_context()

    ctx.send("hello", a=1)

    out = capsys.readouterr().out
    assert out.startswith("{'a': 1, 'type': 'hello', 'time': ")
    assert out.endswith(", 'transaction': None, 'transaction_id': None}\n")


def test_test_context_config_is_a_dict_of_its_keyword_arguments():
    ctx = mite.test_context(extensions=("http",), app_url="http://127.0.0.1:8000")

    assert ctx.config == {"app_url": "http://127.0.0.1:8000"}


def test_test_context_should_stop_is_false():
    assert mite.test_context().should_stop is False


def test_active_transaction_is_the_current_tasks_innermost_name_and_id():
    ctx = Context(send_fn=lambda m: None, config={})
    seen = []

    async def journey(label):
        async with ctx.transaction(label):
            seen.append(ctx._active_transaction)
            async with ctx.transaction("inner"):
                await asyncio.sleep(0.01)
                seen.append(ctx._active_transaction)
            seen.append(ctx._active_transaction)

    async def both():
        await asyncio.gather(journey("A"), journey("B"))

    assert ctx._active_transaction == (None, None)
    asyncio.run(both())
    names = [name for name, _id in seen]
    assert sorted(names) == ["A", "A", "A :: inner", "B", "B", "B :: inner"]
    assert all(isinstance(txn_id, int) for _name, txn_id in seen)
    assert ctx._active_transaction == (None, None)

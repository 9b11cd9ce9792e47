"""The `mite` command line, run end to end as a user runs it: a subprocess in a directory that
holds the user's journey and scenario files.

Journeys report what they saw through `observe(...)` (see conftest.py), so the assertions are
about what user code experienced, not about the runner's internals.
"""

import importlib.metadata
import json
import re
import signal
import time

import msgpack
import pytest

from mite.utils import pack_msg


def unpack_stream(path):
    """Every msgpack object in a file; fails if the file ends in a partial record."""
    data = path.read_bytes()
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(data)
    objects = list(unpacker)
    assert unpacker.tell() == len(data), f"{path} ends with a partial msgpack record"
    return objects


def rolled_collector_files(directory):
    """Rolled collector files, `{start}_{end}_{counter}`, in counter order."""
    named = [(re.fullmatch(r"(\d+)_(\d+)_(\d+)", p.name), p) for p in directory.iterdir()]
    return sorted(((int(m[1]), int(m[2]), int(m[3]), p) for m, p in named if m), key=lambda r: r[2])


def http_stats_lines(result, prefix):
    """The text of the `Http Stats` log lines that start with `prefix`."""
    found = []
    for line in result.stderr_lines:
        if "[Http Stats]" in line and f"] {prefix}" in line:
            found.append(line[line.index(f"] {prefix}") + 2 :])
    return found


# --- The scenario function --------------------------------------------------------------------


@pytest.mark.parametrize(
    "scenarios",
    [
        '[["scenarios:journey", pool, lambda start, end: 1]]',
        '(("scenarios:journey", pool, lambda start, end: 1),)',
        '(entry for entry in [("scenarios:journey", pool, lambda start, end: 1)])',
    ],
    ids=["list-of-lists", "tuple-of-tuples", "generator"],
)
def test_scenario_function_may_return_any_iterable_of_entries(mite_project, scenarios):
    mite_project.write(
        "scenarios.py",
        f"""
        from mite.datapools import IterableDataPool
        from observe import observe

        pool = IterableDataPool([("a",), ("b",), ("c",)])

        async def journey(ctx, item):
            observe(item=item)

        def scenario():
            return {scenarios}
        """,
    )

    result = mite_project.run("scenario", "test", "scenarios:scenario")

    assert result.returncode == 0, result.stderr
    assert [o["item"] for o in mite_project.observed()] == ["a", "b", "c"]


def test_scenario_function_config_set_is_seen_as_ctx_config_in_journeys(mite_project):
    mite_project.write(
        "scenarios.py",
        """
        from mite.datapools import IterableDataPool
        from observe import observe

        async def journey(ctx, n):
            observe(app_url=ctx.config.get("app_url"))

        def scenario(config):
            config.set("app_url", "http://127.0.0.1:8000")
            return [("scenarios:journey", IterableDataPool([(1,), (2,)]), lambda s, e: 1)]
        """,
    )

    result = mite_project.run("scenario", "test", "scenarios:scenario")

    assert result.returncode == 0, result.stderr
    assert mite_project.observed() == [{"app_url": "http://127.0.0.1:8000"}] * 2


def test_config_set_during_the_run_reaches_running_journeys(mite_project):
    # The runner asks the controller for config changes as the test goes (mite's runners get
    # them with each work request); here a volume model sets a key one second in.
    mite_project.write(
        "scenarios.py",
        """
        import asyncio
        from observe import observe

        async def journey(ctx):
            await asyncio.sleep(0.2)
            observe(phase=ctx.config.get("phase"))

        def scenario(config):
            config.set("phase", "warm-up")

            def volume(start, end):
                if start >= 1:
                    config.set("phase", "steady")
                if start >= 3:
                    raise __import__("mite.scenario").scenario.StopVolumeModel
                return 1

            return [("scenarios:journey", None, volume)]
        """,
    )

    result = mite_project.run("scenario", "test", "scenarios:scenario")

    assert result.returncode == 0, result.stderr
    phases = [seen["phase"] for seen in mite_project.observed()]
    assert phases[0] == "warm-up"
    assert phases[-1] == "steady"
    assert phases == sorted(phases, key=["warm-up", "steady"].index)


def test_scenario_sender_delivers_purge_data_to_the_recorder(mite_project):
    users = mite_project.path / "recorder-data" / "users.msgpack"
    users.parent.mkdir()
    users.write_bytes(pack_msg({"username": "left over from an earlier run"}))
    mite_project.write(
        "scenarios.py",
        """
        from mite.datapools import IterableDataPool

        async def journey(ctx, n):
            pass

        def scenario(sender):
            sender.send({"type": "purge_data", "name": "users"})
            return [("scenarios:journey", IterableDataPool([(1,)]), lambda s, e: 1)]
        """,
    )

    result = mite_project.run("scenario", "test", "scenarios:scenario")

    assert result.returncode == 0, result.stderr
    assert not users.exists()


def test_scenario_function_receives_config_and_sender_by_parameter_name(mite_project):
    mite_project.write(
        "scenarios.py",
        """
        from mite.datapools import IterableDataPool
        from observe import observe

        async def journey(ctx, n):
            pass

        def scenario(sender, config):
            observe(sender=hasattr(sender, "send"), config=hasattr(config, "set"))
            return [("scenarios:journey", IterableDataPool([(1,)]), lambda s, e: 1)]
        """,
    )

    result = mite_project.run("scenario", "test", "scenarios:scenario")

    assert result.returncode == 0, result.stderr
    assert mite_project.observed() == [{"sender": True, "config": True}]


# --- sys.path ---------------------------------------------------------------------------------

# These two run the installed `mite` script: `python -m mite` puts the working directory on
# sys.path by itself, which would hide what mite does.

WORKING_DIRECTORY_JOURNEY = """
    from observe import observe

    async def journey(ctx):
        observe(ran=True)
    """


def test_journeys_are_imported_from_the_working_directory(mite_project):
    mite_project.write("wd_journeys.py", WORKING_DIRECTORY_JOURNEY)

    result = mite_project.run("journey", "run", "wd_journeys:journey", console_script=True)

    assert result.returncode == 0, result.stderr
    assert mite_project.observed() == [{"ran": True}]


def test_exclude_working_directory_makes_importing_the_journey_fail(mite_project):
    mite_project.write("wd_journeys.py", WORKING_DIRECTORY_JOURNEY)

    result = mite_project.run(
        "--exclude-working-directory",
        "journey",
        "run",
        "wd_journeys:journey",
        console_script=True,
    )

    assert result.returncode == 1
    assert len(result.error_lines) == 1
    assert "wd_journeys:journey" in result.error_lines[0]
    assert mite_project.observed() == []


# --- Config -----------------------------------------------------------------------------------

CONFIG_JOURNEY = """
    from observe import observe

    async def journey(ctx):
        observe(config=dict(ctx.config))
    """


def test_add_to_config_reaches_ctx_config_split_at_the_first_colon(mite_project):
    mite_project.write("journeys.py", CONFIG_JOURNEY)

    result = mite_project.run(
        "--add-to-config=app_url:http://127.0.0.1:8000",
        "--add-to-config=region:eu",
        "journey",
        "run",
        "journeys:journey",
    )

    assert result.returncode == 0, result.stderr
    [seen] = mite_project.observed()
    assert seen["config"] == {"app_url": "http://127.0.0.1:8000", "region": "eu"}


def test_mite_conf_environment_variables_reach_ctx_config(mite_project):
    mite_project.write("journeys.py", CONFIG_JOURNEY)

    result = mite_project.run(
        "journey", "run", "journeys:journey", env={"MITE_CONF_app_url": "http://example"}
    )

    assert result.returncode == 0, result.stderr
    [seen] = mite_project.observed()
    assert seen["config"] == {"app_url": "http://example"}


def test_add_to_config_overrides_the_environment(mite_project):
    mite_project.write("journeys.py", CONFIG_JOURNEY)

    result = mite_project.run(
        "--add-to-config=region:us",
        "journey",
        "run",
        "journeys:journey",
        env={"MITE_CONF_region": "eu"},
    )

    assert result.returncode == 0, result.stderr
    [seen] = mite_project.observed()
    assert seen["config"] == {"region": "us"}


def test_config_option_replaces_the_environment_loader(mite_project):
    mite_project.write("journeys.py", CONFIG_JOURNEY)
    mite_project.write(
        "settings.py",
        """
        def load():
            return {"users": 5, "app_url": "http://from-loader"}
        """,
    )

    result = mite_project.run(
        "--config=settings:load",
        "journey",
        "run",
        "journeys:journey",
        env={"MITE_CONF_ignored": "yes"},
    )

    assert result.returncode == 0, result.stderr
    [seen] = mite_project.observed()
    assert seen["config"] == {"users": 5, "app_url": "http://from-loader"}


# --- journey test / journey run ---------------------------------------------------------------

CONCURRENCY_JOURNEYS = """
    import asyncio

    from mite.datapools import IterableDataPool
    from observe import observe

    running = 0

    async def journey(ctx, item=None):
        global running
        running += 1
        observe(item=item, running=running)
        try:
            await asyncio.sleep(0.05)
        finally:
            running -= 1

    twelve = IterableDataPool([(n,) for n in range(12)])
    twenty = IterableDataPool([(n,) for n in range(20)])

    def two_and_a_half():
        return [("journeys:journey", twenty, lambda start, end: 2.5)]
    """


def test_journey_test_runs_volume_journeys_at_once_until_the_datapool_is_exhausted(
    mite_project,
):
    mite_project.write("journeys.py", CONCURRENCY_JOURNEYS)

    result = mite_project.run(
        "--volume=3", "journey", "test", "journeys:journey", "journeys:twelve"
    )

    assert result.returncode == 0, result.stderr
    observed = mite_project.observed()
    assert sorted(o["item"] for o in observed) == list(range(12))
    assert max(o["running"] for o in observed) == 3


def test_journey_run_without_datapool_runs_the_journey_exactly_once(mite_project):
    mite_project.write("journeys.py", CONCURRENCY_JOURNEYS)

    result = mite_project.run("journey", "run", "journeys:journey")

    assert result.returncode == 0, result.stderr
    assert mite_project.observed() == [{"item": None, "running": 1}]


def test_journey_run_with_datapool_runs_once_with_the_first_item(mite_project):
    mite_project.write("journeys.py", CONCURRENCY_JOURNEYS)

    result = mite_project.run("journey", "run", "journeys:journey", "journeys:twelve")

    assert result.returncode == 0, result.stderr
    assert mite_project.observed() == [{"item": 0, "running": 1}]


# --- Volume models ----------------------------------------------------------------------------


def test_float_volume_is_truncated_to_a_whole_number_of_concurrent_journeys(mite_project):
    mite_project.write("journeys.py", CONCURRENCY_JOURNEYS)

    result = mite_project.run("scenario", "test", "journeys:two_and_a_half")

    assert result.returncode == 0, result.stderr
    observed = mite_project.observed()
    assert len(observed) == 20
    assert max(o["running"] for o in observed) == 2


def test_volume_model_is_evaluated_once_per_second_over_whole_second_windows(mite_project):
    mite_project.write(
        "scenarios.py",
        """
        from mite.scenario import StopVolumeModel
        from observe import observe

        async def journey(ctx):
            pass

        def volume(start, end):
            observe(start=start, end=end)
            if start >= 2:
                raise StopVolumeModel
            return 1

        def scenario():
            return [("scenarios:journey", None, volume)]
        """,
    )

    result = mite_project.run("--hide-constant-logs", "scenario", "test", "scenarios:scenario")

    assert result.returncode == 0, result.stderr
    calls = [(o["start"], o["end"]) for o in mite_project.observed()]
    assert calls == [(0, 1), (1, 2), (2, 3)]


def test_max_loop_delay_sets_the_volume_model_period(mite_project):
    mite_project.write(
        "scenarios.py",
        """
        from mite.scenario import StopVolumeModel
        from observe import observe

        async def journey(ctx):
            pass

        def volume(start, end):
            observe(start=start, end=end)
            if start >= 2:
                raise StopVolumeModel
            return 1

        def scenario():
            return [("scenarios:journey", None, volume)]
        """,
    )

    result = mite_project.run(
        "--max-loop-delay=2", "--hide-constant-logs", "scenario", "test", "scenarios:scenario"
    )

    assert result.returncode == 0, result.stderr
    calls = [(o["start"], o["end"]) for o in mite_project.observed()]
    assert calls == [(0, 2), (2, 4)]


def test_volume_model_value_is_the_concurrency_target_for_its_period(mite_project):
    mite_project.write(
        "scenarios.py",
        """
        import asyncio

        from mite.scenario import StopVolumeModel
        from observe import observe

        target = None
        running = 0

        async def journey(ctx):
            global running
            running += 1
            observe(target=target, running=running)
            try:
                await asyncio.sleep(0.05)
            finally:
                running -= 1

        def volume(start, end):
            global target
            if start >= 2:
                raise StopVolumeModel
            target = 1 if start < 1 else 3
            return target

        def scenario():
            return [("scenarios:journey", None, volume)]
        """,
    )

    result = mite_project.run("--hide-constant-logs", "scenario", "test", "scenarios:scenario")

    assert result.returncode == 0, result.stderr
    observed = mite_project.observed()
    assert max(o["running"] for o in observed if o["target"] == 1) == 1
    assert max(o["running"] for o in observed if o["target"] == 3) == 3


def test_stop_volume_model_ends_only_its_own_scenario(mite_project):
    mite_project.write(
        "scenarios.py",
        """
        import asyncio
        import time

        from mite.scenario import StopVolumeModel
        from observe import observe

        IMPORTED = time.monotonic()

        async def short(ctx):
            observe(journey="short", at=time.monotonic() - IMPORTED)
            await asyncio.sleep(0.05)

        async def long(ctx):
            observe(journey="long", at=time.monotonic() - IMPORTED)
            await asyncio.sleep(0.05)

        def until(seconds):
            def volume(start, end):
                if start >= seconds:
                    raise StopVolumeModel
                return 1
            return volume

        def scenario():
            return [("scenarios:short", None, until(1)), ("scenarios:long", None, until(2))]
        """,
    )

    result = mite_project.run("--hide-constant-logs", "scenario", "test", "scenarios:scenario")

    assert result.returncode == 0, result.stderr
    observed = mite_project.observed()
    first = min(o["at"] for o in observed)
    short_starts = [o["at"] - first for o in observed if o["journey"] == "short"]
    long_starts = [o["at"] - first for o in observed if o["journey"] == "long"]
    assert max(short_starts) < 1.3
    assert max(long_starts) > 1.5
    assert result.elapsed < 5


def test_delay_start_seconds_postpones_the_first_journey(mite_project):
    mite_project.write(
        "scenarios.py",
        """
        import time

        from mite.datapools import IterableDataPool
        from observe import observe

        IMPORTED = time.monotonic()

        async def journey(ctx, n):
            observe(at=time.monotonic() - IMPORTED)

        def scenario():
            return [("scenarios:journey", IterableDataPool([(1,)]), lambda start, end: 1)]
        """,
    )

    result = mite_project.run(
        "--delay-start-seconds=1", "--hide-constant-logs", "scenario", "test", "scenarios:scenario"
    )

    assert result.returncode == 0, result.stderr
    [seen] = mite_project.observed()
    assert seen["at"] >= 0.95


def test_spawn_rate_does_not_starve_a_closed_loop_of_short_journeys(mite_project):
    # Ten one-request journeys in a closed loop for ~1.5 s: each finished journey must be
    # replaced at once, so thousands run; a spawn limit that throttles replacements would give
    # hundreds.
    mite_project.write(
        "scenarios.py",
        """
        import asyncio
        import time

        from mite.scenario import StopVolumeModel
        from observe import observe

        IMPORTED = time.monotonic()
        finished = 0

        async def journey(ctx):
            global finished
            await asyncio.sleep(0)
            finished += 1

        def volume(start, end):
            observe(finished=finished)
            if time.monotonic() - IMPORTED > 1.5:
                raise StopVolumeModel
            return 10

        def scenario():
            return [("scenarios:journey", None, volume)]
        """,
    )

    result = mite_project.run(
        "--spawn-rate=1000", "--hide-constant-logs", "scenario", "test", "scenarios:scenario"
    )

    assert result.returncode == 0, result.stderr
    assert mite_project.observed()[-1]["finished"] >= 2000


# --- Recyclable datapools with more concurrency than items ------------------------------------


@pytest.fixture(scope="module")
def recycling_run(tmp_path_factory, mite_project_factory):
    """Volume 10 for ~1 s over a RecyclableIterableDataPool of 3 items."""
    project = mite_project_factory(tmp_path_factory.mktemp("recycling"))
    project.write(
        "scenarios.py",
        """
        import asyncio

        from mite.datapools import RecyclableIterableDataPool
        from mite.scenario import StopVolumeModel
        from observe import observe

        pool = RecyclableIterableDataPool([("a",), ("b",), ("c",)])
        in_use = set()

        async def journey(ctx, item):
            observe(item=item, already_in_use=item in in_use)
            in_use.add(item)
            try:
                await asyncio.sleep(0.02)
            finally:
                in_use.discard(item)

        def volume(start, end):
            if start >= 1:
                raise StopVolumeModel
            return 10

        def scenario():
            return [("scenarios:journey", pool, volume)]
        """,
    )
    return project, project.run("--hide-constant-logs", "scenario", "test", "scenarios:scenario")


def test_recyclable_datapool_smaller_than_volume_waits_instead_of_crashing(recycling_run):
    project, result = recycling_run

    assert result.returncode == 0, result.stderr
    assert result.error_lines == []
    assert "Traceback" not in result.stderr
    # Items were checked in and handed out again, many times each.
    items = [o["item"] for o in project.observed()]
    assert {item: items.count(item) > 5 for item in "abc"} == dict.fromkeys("abc", True)


def test_recyclable_datapool_smaller_than_volume_warns_once(recycling_run):
    _, result = recycling_run

    warnings = [line for line in result.stderr_lines if "<WARNING>" in line]
    assert len(warnings) == 1, warnings


def test_recyclable_datapool_never_gives_one_item_to_two_running_journeys(recycling_run):
    project, _ = recycling_run

    observed = project.observed()
    assert observed
    assert [o for o in observed if o["already_in_use"]] == []


# --- Recorder ---------------------------------------------------------------------------------

RECORDER_JOURNEYS = """
    from mite.datapools import IterableDataPool

    async def create(ctx, n):
        async with ctx.transaction("Create user"):
            ctx.send("data_created", name="users", data={"username": f"user{n}"})

    async def purge(ctx):
        ctx.send("purge_data", name="users")

    three = IterableDataPool([(n,) for n in range(3)])
    """


def test_data_created_appends_only_the_data_value_to_recorder_data_name_msgpack(mite_project):
    mite_project.write("journeys.py", RECORDER_JOURNEYS)

    result = mite_project.run("journey", "test", "journeys:create", "journeys:three")

    assert result.returncode == 0, result.stderr
    assert unpack_stream(mite_project.path / "recorder-data" / "users.msgpack") == [
        {"username": "user0"},
        {"username": "user1"},
        {"username": "user2"},
    ]


def test_recorder_files_accumulate_across_runs(mite_project):
    mite_project.write("journeys.py", RECORDER_JOURNEYS)

    for _ in range(2):
        result = mite_project.run("journey", "test", "journeys:create", "journeys:three")
        assert result.returncode == 0, result.stderr

    records = unpack_stream(mite_project.path / "recorder-data" / "users.msgpack")
    assert [r["username"] for r in records] == ["user0", "user1", "user2"] * 2


def test_purge_data_from_a_journey_deletes_the_recorder_file(mite_project):
    mite_project.write("journeys.py", RECORDER_JOURNEYS)
    users = mite_project.path / "recorder-data" / "users.msgpack"
    users.parent.mkdir()
    users.write_bytes(pack_msg({"username": "old"}))

    result = mite_project.run("journey", "run", "journeys:purge")

    assert result.returncode == 0, result.stderr
    assert not users.exists()


def test_purge_data_for_a_missing_file_is_not_an_error(mite_project):
    mite_project.write("journeys.py", RECORDER_JOURNEYS)

    result = mite_project.run("journey", "run", "journeys:purge")

    assert result.returncode == 0, result.stderr
    assert not (mite_project.path / "recorder-data" / "users.msgpack").exists()


def test_recorder_dir_option_chooses_the_recorder_directory(mite_project):
    mite_project.write("journeys.py", RECORDER_JOURNEYS)

    result = mite_project.run(
        "--recorder-dir=seed_data", "journey", "test", "journeys:create", "journeys:three"
    )

    assert result.returncode == 0, result.stderr
    assert len(unpack_stream(mite_project.path / "seed_data" / "users.msgpack")) == 3
    assert not (mite_project.path / "recorder-data" / "users.msgpack").exists()


# --- Collector --------------------------------------------------------------------------------

COLLECTOR_JOURNEYS = """
    from mite.datapools import IterableDataPool

    async def create(ctx, n):
        async with ctx.transaction("Create user"):
            ctx.send("data_created", name="users", data={"username": f"user{n}"})

    ten = IterableDataPool([(n,) for n in range(10)])

    def scenario():
        return [("collector_journeys:create", ten, lambda start, end: 1)]

    def keep_data_created(raw):
        return b"data_created" in raw
    """


def test_collector_writes_current_and_its_start_time(mite_project):
    mite_project.write("collector_journeys.py", COLLECTOR_JOURNEYS)
    before = int(time.time())

    result = mite_project.run("scenario", "test", "collector_journeys:scenario")

    assert result.returncode == 0, result.stderr
    collector_data = mite_project.path / "collector_data"
    assert (collector_data / "current").is_file()
    start = int((collector_data / "current_start_time").read_text())
    assert before <= start <= time.time()


def test_collector_stores_whole_messages_with_their_envelope(mite_project):
    mite_project.write("collector_journeys.py", COLLECTOR_JOURNEYS)

    result = mite_project.run("scenario", "test", "collector_journeys:scenario")

    assert result.returncode == 0, result.stderr
    messages = unpack_stream(mite_project.path / "collector_data" / "current")
    created = [m for m in messages if m.get("type") == "data_created"]
    assert len(created) == 10
    first = created[0]
    assert first["name"] == "users"
    assert first["data"] == {"username": "user0"}
    assert isinstance(first["time"], float)
    assert first["test"] == "collector_journeys:scenario"
    assert first["journey"] == "collector_journeys:create"
    assert isinstance(first["runner_id"], int)
    assert isinstance(first["context_id"], int)
    assert first["scenario_id"] == 1
    assert first["scenario_data_id"] == 1
    assert first["transaction"] == "__root__ :: Create user"
    assert isinstance(first["transaction_id"], int)
    assert {"txn", "controller_report"} <= {m.get("type") for m in messages}


def test_collector_roll_moves_every_n_messages_into_numbered_files(mite_project):
    mite_project.write("collector_journeys.py", COLLECTOR_JOURNEYS)
    before = int(time.time())

    result = mite_project.run(
        "--collector-roll=4", "scenario", "test", "collector_journeys:scenario"
    )

    assert result.returncode == 0, result.stderr
    collector_data = mite_project.path / "collector_data"
    rolled = rolled_collector_files(collector_data)
    assert len(rolled) >= 5  # 10 journeys send at least 30 messages
    assert [counter for _, _, counter, _ in rolled] == list(range(len(rolled)))
    for start, end, _, path in rolled:
        assert before <= start <= end <= time.time()
        assert len(unpack_stream(path)) == 4
    assert len(unpack_stream(collector_data / "current")) < 4
    created = [
        m["data"]["username"]
        for _, _, _, path in rolled
        for m in unpack_stream(path)
        if m.get("type") == "data_created"
    ]
    created += [
        m["data"]["username"]
        for m in unpack_stream(collector_data / "current")
        if m.get("type") == "data_created"
    ]
    assert created == [f"user{n}" for n in range(10)]


def test_collector_keeps_the_previous_runs_file_as_a_rolled_file(mite_project):
    mite_project.write("collector_journeys.py", COLLECTOR_JOURNEYS)
    collector_data = mite_project.path / "collector_data"

    first = mite_project.run("scenario", "test", "collector_journeys:scenario")
    first_messages = unpack_stream(collector_data / "current")
    first_start = int((collector_data / "current_start_time").read_text())
    second = mite_project.run("scenario", "test", "collector_journeys:scenario")

    assert (first.returncode, second.returncode) == (0, 0), second.stderr
    [(start, _, counter, path)] = rolled_collector_files(collector_data)
    assert (start, counter) == (first_start, 0)
    assert unpack_stream(path) == first_messages


def test_collector_use_json_writes_one_json_message_per_line(mite_project):
    mite_project.write("collector_journeys.py", COLLECTOR_JOURNEYS)

    result = mite_project.run(
        "--collector-use-json", "scenario", "test", "collector_journeys:scenario"
    )

    assert result.returncode == 0, result.stderr
    lines = (mite_project.path / "collector_data" / "current").read_text().splitlines()
    messages = [json.loads(line) for line in lines]
    created = [m for m in messages if m["type"] == "data_created"]
    assert [m["data"]["username"] for m in created] == [f"user{n}" for n in range(10)]
    assert created[0]["journey"] == "collector_journeys:create"


def test_collector_filter_keeps_only_the_messages_it_accepts(mite_project):
    mite_project.write("collector_journeys.py", COLLECTOR_JOURNEYS)

    result = mite_project.run(
        "--collector-filter=collector_journeys:keep_data_created",
        "scenario",
        "test",
        "collector_journeys:scenario",
        timeout=10,
    )

    assert result.returncode == 0, result.stderr
    messages = unpack_stream(mite_project.path / "collector_data" / "current")
    assert [m["type"] for m in messages] == ["data_created"] * 10


def test_collector_dir_option_chooses_the_collector_directory(mite_project):
    mite_project.write("collector_journeys.py", COLLECTOR_JOURNEYS)

    result = mite_project.run(
        "--collector-dir=raw", "scenario", "test", "collector_journeys:scenario"
    )

    assert result.returncode == 0, result.stderr
    assert len(unpack_stream(mite_project.path / "raw" / "current")) >= 30
    assert not (mite_project.path / "collector_data").exists()


# --- The periodic Http Stats lines ------------------------------------------------------------

STATS_JOURNEYS = """
    import asyncio
    import random

    from mite.scenario import StopVolumeModel

    async def request(ctx):
        async with ctx.transaction("Request"):
            ctx.send("http_metrics", total_time=random.uniform(0.01, 0.02), download_size=100)
            await asyncio.sleep(0.02)

    async def failing(ctx):
        await asyncio.sleep(0.05)
        raise ValueError("the app said no")

    def for_three_seconds(start, end):
        if start >= 3:
            raise StopVolumeModel
        return 2

    def requests():
        return [("stats_journeys:request", None, for_three_seconds)]

    def requests_and_failures():
        return [
            ("stats_journeys:request", None, for_three_seconds),
            ("stats_journeys:failing", None, for_three_seconds),
        ]
    """


@pytest.fixture(scope="module")
def stats_runs(tmp_path_factory, mite_project_factory):
    """Three ~3 s runs, started together to save time: default options, hidden constant logs,
    and per-journey error logging."""
    options = {
        "default": ["--max-errors-threshold=100000", "requests_and_failures"],
        "hidden": ["--hide-constant-logs", "requests"],
        "journey_logging": [
            "--journey-logging",
            "--max-errors-threshold=100000",
            "requests_and_failures",
        ],
    }
    started = {}
    for name, (*flags, scenario) in options.items():
        project = mite_project_factory(tmp_path_factory.mktemp(f"stats_{name}"))
        project.write("stats_journeys.py", STATS_JOURNEYS)
        started[name] = (
            project,
            project.start(*flags, "scenario", "test", f"stats_journeys:{scenario}"),
        )
    return {name: project.finish(process) for name, (project, process) in started.items()}


def test_stats_lines_show_totals_and_the_last_two_seconds(stats_runs):
    result = stats_runs["default"]

    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"Total> #Reqs:\d+ #Errs:\d+", http_stats_lines(result, "Total>")[0])
    assert http_stats_lines(result, "Last 2 Secs> #Reqs:")


def test_stats_line_prints_every_percentile_with_six_decimals(stats_runs):
    [line, *_] = http_stats_lines(stats_runs["default"], "Last 2 Secs>")

    number = r"\d+\.\d{6}"
    assert re.fullmatch(
        rf"Last 2 Secs> #Reqs:[1-9]\d* #Errs:\d+ Req/S:\d+\.\d min:{number} 25%:{number}"
        rf" 50%:{number} 75%:{number} 90%:{number} 99%:{number} 99\.9%:{number} max:{number}",
        line,
    ), line


def test_stats_lines_have_no_per_journey_errors_without_journey_logging(stats_runs):
    result = stats_runs["default"]

    assert http_stats_lines(result, "Total> #Reqs:")
    assert http_stats_lines(result, "Total errors for") == []


def test_hide_constant_logs_suppresses_the_stats_lines(stats_runs):
    result = stats_runs["hidden"]

    assert result.returncode == 0, result.stderr
    assert result.elapsed > 2.5  # long enough that the lines would have been printed
    assert http_stats_lines(result, "Total>") == []
    assert http_stats_lines(result, "Last 2 Secs>") == []


def test_journey_logging_adds_error_totals_per_journey(stats_runs):
    result = stats_runs["journey_logging"]

    assert result.returncode == 0, result.stderr
    [line, *_] = http_stats_lines(result, "Total errors for")
    assert re.fullmatch(r"Total errors for stats_journeys:failing :[1-9]\d*", line), line


# --- Message processors -----------------------------------------------------------------------


def test_message_processor_class_gets_the_options_and_every_message_as_a_dict(mite_project):
    mite_project.write("journeys.py", RECORDER_JOURNEYS)
    mite_project.write(
        "processors.py",
        """
        from observe import observe

        class Recording:
            def __init__(self, options):
                observe(
                    options_type=type(options).__name__,
                    processors=options["--message-processors"],
                )

            def process_message(self, message):
                observe(message_type=type(message).__name__, type=message.get("type"))
        """,
    )

    result = mite_project.run(
        "--message-processors=processors:Recording",
        "journey",
        "test",
        "journeys:create",
        "journeys:three",
    )

    assert result.returncode == 0, result.stderr
    [created, *messages] = mite_project.observed()
    assert created == {"options_type": "dict", "processors": "processors:Recording"}
    assert {m["message_type"] for m in messages} == {"dict"}
    types = [m["type"] for m in messages]
    assert types.count("data_created") == 3
    assert "txn" in types


def test_message_processor_with_process_raw_message_gets_msgpack_bytes(mite_project):
    mite_project.write("journeys.py", RECORDER_JOURNEYS)
    mite_project.write(
        "processors.py",
        """
        import msgpack

        from observe import observe

        class Raw:
            def __init__(self, options):
                pass

            def process_raw_message(self, raw):
                message = msgpack.unpackb(raw, raw=False, strict_map_key=False)
                observe(raw_type=type(raw).__name__, type=message.get("type"))
        """,
    )

    result = mite_project.run(
        "--message-processors=processors:Raw",
        "journey",
        "test",
        "journeys:create",
        "journeys:three",
    )

    assert result.returncode == 0, result.stderr
    observed = mite_project.observed()
    assert {o["raw_type"] for o in observed} == {"bytes"}
    assert [o["type"] for o in observed].count("data_created") == 3


# --- Bad input: one `mite: error:` line, exit 1, no traceback -------------------------------

BAD_INPUT_MODULE = """
    from mite.datapools import IterableDataPool

    async def journey(ctx, username):
        pass

    def fine(start, end):
        return 1

    pool = IterableDataPool([("alice",)])

    def unknown_journey_module():
        return [("no_such_module:journey", pool, fine)]

    def unknown_journey_attribute():
        return [("bad:no_such_journey", pool, fine)]

    def returns_a_number():
        return 5

    def returns_strings():
        return ["bad:journey"]

    def two_item_entry():
        return [("bad:journey", pool)]

    def four_item_entry():
        return [("bad:journey", pool, fine, "extra")]

    def raising_volume_model():
        def volume(start, end):
            raise ValueError("volume model broke")
        return [("bad:journey", pool, volume)]

    def volume_model_returns_text():
        return [("bad:journey", pool, lambda start, end: "lots")]

    def item_does_not_fit_the_journey():
        return [("bad:journey", IterableDataPool([("alice", "extra", "fields")]), fine)]

    def wants_a_database(database):
        return [("bad:journey", pool, fine)]
    """

BAD_INPUT_CASES = [
    pytest.param(
        ["scenario", "test", "no_such_module:scenario"],
        ["no_such_module:scenario"],
        id="unknown scenario module",
    ),
    pytest.param(
        ["scenario", "test", "bad:no_such_scenario"],
        ["bad:no_such_scenario"],
        id="unknown scenario attribute",
    ),
    pytest.param(
        ["scenario", "test", "broken:scenario"],
        ["broken:scenario"],
        id="syntax error in the user's file",
    ),
    pytest.param(
        ["scenario", "test", "bad:unknown_journey_module"],
        ["no_such_module:journey"],
        id="unknown journey module in a scenario",
    ),
    pytest.param(
        ["scenario", "test", "bad:unknown_journey_attribute"],
        ["bad:no_such_journey"],
        id="unknown journey attribute in a scenario",
    ),
    pytest.param(
        ["journey", "test", "bad:no_such_journey"],
        ["bad:no_such_journey"],
        id="unknown journey for journey test",
    ),
    pytest.param(
        ["journey", "run", "no_such_module:journey"],
        ["no_such_module:journey"],
        id="unknown journey module for journey run",
    ),
    pytest.param(
        ["journey", "test", "bad:journey", "bad:no_such_pool"],
        ["bad:no_such_pool"],
        id="unknown datapool",
    ),
    pytest.param(
        ["--config=no_such_module:load", "journey", "run", "bad:journey", "bad:pool"],
        ["no_such_module:load"],
        id="unknown config loader",
    ),
    pytest.param(
        [
            "--message-processors=no_such_module:Processor",
            "journey",
            "run",
            "bad:journey",
            "bad:pool",
        ],
        ["no_such_module:Processor"],
        id="unknown message processor",
    ),
    pytest.param(
        ["--collector-filter=no_such_module:keep", "journey", "run", "bad:journey", "bad:pool"],
        ["no_such_module:keep"],
        id="unknown collector filter",
    ),
    pytest.param(
        ["scenario", "test", "bad:returns_a_number"],
        ["bad:returns_a_number"],
        id="scenario returns a number",
    ),
    pytest.param(
        ["scenario", "test", "bad:returns_strings"],
        ["bad:returns_strings"],
        id="scenario returns strings",
    ),
    pytest.param(
        ["scenario", "test", "bad:two_item_entry"],
        ["bad:two_item_entry"],
        id="scenario entry with two items",
    ),
    pytest.param(
        ["scenario", "test", "bad:four_item_entry"],
        ["bad:four_item_entry"],
        id="scenario entry with four items",
    ),
    pytest.param(
        ["scenario", "test", "bad:raising_volume_model"],
        ["bad:journey", "volume model broke"],
        id="volume model raises",
    ),
    pytest.param(
        ["scenario", "test", "bad:volume_model_returns_text"],
        ["bad:journey", "lots"],
        id="volume model returns text",
    ),
    pytest.param(
        ["scenario", "test", "bad:item_does_not_fit_the_journey"],
        ["bad:journey"],
        id="datapool item does not fit the journey",
    ),
    pytest.param(
        ["scenario", "test", "bad:wants_a_database"],
        ["bad:wants_a_database", "database"],
        id="scenario parameter other than config and sender",
    ),
    pytest.param(
        ["--log-level=LOUD", "journey", "run", "bad:journey", "bad:pool"],
        ["--log-level", "LOUD"],
        id="unknown log level",
    ),
]


@pytest.mark.parametrize(("args", "named"), BAD_INPUT_CASES)
def test_bad_input_is_one_error_line_and_exit_code_1(mite_project, args, named):
    mite_project.write("bad.py", BAD_INPUT_MODULE)
    mite_project.write("broken.py", "def scenario(:\n    return []\n")

    result = mite_project.run(*args, timeout=15)

    assert result.returncode == 1, result.stderr
    assert len(result.error_lines) == 1, result.stderr
    for text in named:
        assert text in result.error_lines[0]
    assert "Traceback" not in result.stderr + result.stdout


# --- Journey exceptions -----------------------------------------------------------------------

FAILING_JOURNEYS = """
    from mite.datapools import IterableDataPool
    from observe import observe

    async def journey(ctx, item):
        observe(item=item)
        async with ctx.transaction("Sign in"):
            if item in failing_items:
                raise ValueError(f"item {item} is bad")

    failing_items = {2}
    five = IterableDataPool([(n,) for n in range(5)])

    def scenario():
        return [("failing:journey", five, lambda start, end: 1)]

    def scenario_failing_twice():
        failing_items.add(3)
        return scenario()
    """


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory, mite_project_factory):
    """Five journeys, the third raising, with the default --max-errors-threshold."""
    project = mite_project_factory(tmp_path_factory.mktemp("failing"))
    project.write("failing.py", FAILING_JOURNEYS)
    return project, project.run("scenario", "test", "failing:scenario")


def test_journey_exception_does_not_stop_the_run(failing_run):
    project, _ = failing_run

    assert [o["item"] for o in project.observed()] == [0, 1, 2, 3, 4]


def test_journey_exception_fails_the_run_with_the_default_threshold(failing_run):
    _, result = failing_run

    assert result.returncode == 1
    assert any(line.endswith("Error count exceeded: 1") for line in result.stderr_lines)


def test_journey_exception_is_logged_with_its_stack_trace(failing_run):
    project, result = failing_run

    warning = next(i for i, line in enumerate(result.stderr_lines) if "<WARNING> [MSG]" in line)
    logged = "\n".join(result.stderr_lines[warning : warning + 6])
    assert "ValueError" in logged
    assert "item 2 is bad" in logged
    assert f'File "{project.path / "failing.py"}"' in logged
    assert 'raise ValueError(f"item {item} is bad")' in logged


def test_errors_up_to_max_errors_threshold_pass_the_run(mite_project):
    mite_project.write("failing.py", FAILING_JOURNEYS)

    result = mite_project.run("--max-errors-threshold=1", "scenario", "test", "failing:scenario")

    assert result.returncode == 0, result.stderr
    assert "Error count exceeded" not in result.stderr


def test_errors_above_max_errors_threshold_fail_the_run(mite_project):
    mite_project.write("failing.py", FAILING_JOURNEYS)

    result = mite_project.run(
        "--max-errors-threshold=1", "scenario", "test", "failing:scenario_failing_twice"
    )

    assert result.returncode == 1
    assert any(line.endswith("Error count exceeded: 2") for line in result.stderr_lines)


# --- Logging and version ----------------------------------------------------------------------


def test_log_level_warning_hides_info_lines(mite_project):
    mite_project.write("journeys.py", RECORDER_JOURNEYS)

    result = mite_project.run(
        "--log-level=WARNING", "journey", "test", "journeys:create", "journeys:three"
    )

    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr_lines if "<INFO>" in line] == []


def test_log_level_debug_logs_every_message(mite_project):
    mite_project.write("journeys.py", RECORDER_JOURNEYS)

    result = mite_project.run(
        "--log-level=DEBUG", "journey", "test", "journeys:create", "journeys:three"
    )

    assert result.returncode == 0, result.stderr
    debug_messages = [line for line in result.stderr_lines if "<DEBUG> [MSG]" in line]
    assert len([line for line in debug_messages if "[data_created]" in line]) == 3
    assert any("[txn]" in line for line in debug_messages)


CAPPED = """
    import asyncio

    from mite.scenario import StopVolumeModel
    from observe import observe

    running = 0

    async def journey(ctx):
        global running
        running += 1
        observe(running=running)
        await asyncio.sleep(0.1)
        running -= 1

    def volume(start, end):
        if start > 1.5:
            raise StopVolumeModel
        return 10

    def scenario():
        return [("capped:journey", None, volume)]
    """


def test_runner_max_journeys_caps_a_test_runs_concurrent_journeys(mite_project):
    mite_project.write("capped.py", CAPPED)
    result = mite_project.run("scenario", "test", "capped:scenario", "--runner-max-journeys=3")
    assert result.returncode == 0, result.stderr
    most = max(o["running"] for o in mite_project.observed())
    assert most == 3, most
    # Without the cap the volume model's 10 run at once.
    (mite_project.path / "observed.jsonl").unlink(missing_ok=True)
    result = mite_project.run("scenario", "test", "capped:scenario")
    assert max(o["running"] for o in mite_project.observed()) == 10


@pytest.mark.parametrize(
    "args, line",
    [
        (
            ["duplicator", "--message-backend=nanomsg", "tcp://127.0.0.1:1"],
            "--message-backend: nanomsg is not supported by mite-rs; ZMQ (the default) is",
        ),
        (
            ["runner", "--message-backend=zmq"],
            '--message-backend: unsupported backend "zmq" (the one backend is ZMQ)',
        ),
        (
            ["scenario", "test", "capped:scenario", "--sleep-time=2"],
            "--sleep-time applies to har only, which mite-rs does not have yet",
        ),
        (
            ["scenario", "test", "capped:scenario", "--min-loop-delay=0.1"],
            "--min-loop-delay applies to runner (and scenario test --runners N) only",
        ),
        (
            ["runner", "--min-loop-delay=-1"],
            "--min-loop-delay must be a number of seconds, 0 or more, not -1",
        ),
    ],
    ids=["nanomsg", "unknown-backend", "sleep-time", "min-loop-delay", "negative-delay"],
)
def test_options_of_other_commands_and_bad_backends_are_one_line(mite_project, args, line):
    mite_project.write("capped.py", CAPPED)
    result = mite_project.run(*args, timeout=30)
    assert result.returncode == 1, result.stderr
    assert result.error_lines == [f"mite: error: {line}"], result.stderr


def test_version_prints_the_installed_version_and_exits_0(mite_project):
    result = mite_project.run("--version", timeout=10)

    assert result.returncode == 0, result.stderr
    assert importlib.metadata.version("mite") in result.stdout


# --- Ctrl-C and SIGTERM -----------------------------------------------------------------------

ENDLESS_JOURNEYS = """
    import asyncio

    from observe import observe

    async def journey(ctx):
        observe(event="started")
        try:
            while True:
                async with ctx.transaction("Create user"):
                    ctx.send("data_created", name="users", data={"username": "x" * 40})
                await asyncio.sleep(0.001)
        except asyncio.CancelledError:
            observe(event="cancelled")
            raise

    def scenario():
        return [("endless:journey", None, lambda start, end: 3)]
    """


@pytest.fixture(
    scope="module",
    params=[(signal.SIGINT, 130), (signal.SIGTERM, 143)],
    ids=["SIGINT", "SIGTERM"],
)
def interrupted_run(request, tmp_path_factory, mite_project_factory):
    """An endless run, signalled once journeys are writing records."""
    signum, expected_code = request.param
    project = mite_project_factory(tmp_path_factory.mktemp(signal.Signals(signum).name))
    project.write("endless.py", ENDLESS_JOURNEYS)
    recorder_file = project.path / "recorder-data" / "users.msgpack"
    # Endless journeys outlast any grace period: they are cancelled once it ends.
    process = project.start(
        "--hide-constant-logs", "scenario", "test", "endless:scenario", "--grace-period=1"
    )
    try:
        deadline = time.monotonic() + 15
        while not recorder_file.exists() and time.monotonic() < deadline:
            assert process.poll() is None, "mite ended before it was signalled"
            time.sleep(0.02)
        assert recorder_file.exists(), "the run never started recording"
        time.sleep(0.3)
        process.send_signal(signum)
        signalled_at = time.monotonic()
        result = project.finish(process, timeout=20)
        return project, result, expected_code, time.monotonic() - signalled_at
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_signal_stops_the_run_with_its_exit_code(interrupted_run):
    _, result, expected_code, stop_time = interrupted_run

    assert result.returncode == expected_code, result.stderr
    assert 1 <= stop_time < 8


def test_signal_leaves_complete_recorder_and_collector_files(interrupted_run):
    project, _, _, _ = interrupted_run

    records = unpack_stream(project.path / "recorder-data" / "users.msgpack")
    messages = unpack_stream(project.path / "collector_data" / "current")
    assert len(records) > 10
    assert records[-1] == {"username": "x" * 40}
    assert len([m for m in messages if m.get("type") == "data_created"]) > 10


def test_signal_cancels_the_running_journeys(interrupted_run):
    project, _, _, _ = interrupted_run

    events = [o["event"] for o in project.observed()]
    assert events.count("started") == 3
    assert events.count("cancelled") == 3


@pytest.mark.parametrize(
    "args, line",
    [
        (["stats", "--volume=2"], "--volume applies to journey test only"),
        (
            ["--collector-dir=x", "recorder"],
            "--collector-dir applies to scenario test, journey test|run and collector only",
        ),
        (["cat", "--report", "f"], "--report applies to scenario test and journey test|run only"),
    ],
)
def test_an_option_a_command_does_not_use_is_one_line(mite_project, args, line):
    result = mite_project.run(*args, timeout=30)
    assert result.returncode == 1, result.stderr
    assert result.error_lines == [f"mite: error: {line}"], result.stderr


def test_each_commands_help_lists_only_its_own_options_under_headings(mite_project):
    result = mite_project.run("duplicator", "--help", timeout=30)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "Usage: mite duplicator" in text and "OUT_SOCKET" in text
    assert "Distributed:" in text and "--message-socket" in text
    for other in ["--volume", "--report", "--spawn-rate", "--collector-dir", "Load:"]:
        assert other not in text, text
    top = mite_project.run("--help", timeout=30).stdout
    for command in ["scenario", "journey", "controller", "runner", "prometheus_exporter", "cat"]:
        assert command in top
    assert "--spawn-rate" not in top and "mite COMMAND --help" in top

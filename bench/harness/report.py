"""Medians, ratios, the mite-rs targets, and RESULTS.md."""

import datetime
import json
import os
import platform
import re
import shutil
import statistics
from pathlib import Path

from .process import SERVER_CPU, TOOL_CPU, log, run
from .shapes import OPEN_RATE, PACED_RATE, SHAPES

LONG_RUN_BEGIN = "<!-- bench/run long-run: begin -->"
LONG_RUN_END = "<!-- bench/run long-run: end -->"
LONG_RUN_DATA = re.compile(r"<!-- bench/run long-run data: (.*?) -->")


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, spec, none="–"):
    return none if value is None else format(value, spec)


def summarise(results, tools, shape):
    """tool -> medians over the repetitions that measured requests."""
    rows = {}
    for name in tools:
        ms = [m for m in results if m.tool == name and m.shape == shape]
        if not ms:
            continue
        good = [m for m in ms if m.window_requests]
        rates = [m.rate for m in good]
        stopped = sum(m.stopped_by_harness for m in ms)
        rows[name] = {
            "rate": median(rates),
            "spread": (max(rates) - min(rates)) / median(rates) * 100 if len(rates) > 1 else None,
            "cpu_us_window": median([m.window_cpu_us_per_request for m in good]),
            "core": median([m.core_percent for m in good]),
            "cpu_us": median([m.cpu_us_per_request for m in good]),
            "rss": median([m.max_rss_mib for m in good]),
            "errors": sum(m.errors or 0 for m in ms)
            if any(m.errors is not None for m in ms)
            else None,
            "reps": len(good),
            "of": len(ms),
            "scheduled": median([m.scheduled for m in good]),
            "dropped": median([m.dropped for m in good]),
            "problems": sorted({m.problem for m in ms if m.problem})
            + (
                [f"stopped by bench/run after its schedule ended in {stopped} of {len(ms)} runs"]
                if stopped
                else []
            ),
        }
    return rows


def open_model_table(rows, tools):
    """Shape (e): what each tool started of the starts it scheduled, in the window (as nginx
    counted the one request of each journey) and over its whole run (its own counts)."""
    k6 = (rows.get("k6") or {}).get("rate")
    lines = [
        "| tool | scheduled starts/s | achieved req/s | achieved / scheduled | spread | × k6 "
        "| scheduled, whole run | dropped, whole run | CPU µs/req | core % | max RSS MiB "
        "| errors | runs |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, r in rows.items():
        rate = r["rate"]
        spread = fmt(r["spread"], ".1f") + ("%" if r["spread"] is not None else "")
        share = fmt(rate / OPEN_RATE * 100 if rate else None, ".1f")
        lines.append(
            f"| {tools[name].label} | {OPEN_RATE:,} | {fmt(rate, ',.0f')} | "
            f"{share}{'%' if rate else ''} | {spread} | "
            f"{fmt(rate / k6 if rate and k6 else None, '.2f')} | "
            f"{fmt(r['scheduled'], ',.0f')} | {fmt(r['dropped'], ',.0f')} | "
            f"{fmt(r['cpu_us_window'], ',.1f')} | {fmt(r['core'], '.0f')} | "
            f"{fmt(r['rss'], ',.1f')} | {fmt(r['errors'], ',d')} | {r['reps']}/{r['of']} |"
        )
    return lines


def shape_table(rows, tools, key=None):
    if key == "e":
        return open_model_table(rows, tools)
    wrk = (rows.get("wrk") or {}).get("rate")
    mite = (rows.get("mite") or {}).get("rate")

    def ratio(rate, base):
        return fmt(rate / base if rate and base else None, ".2f")

    lines = [
        "| tool | req/s | spread | × wrk | × mite 2.11 | CPU µs/req | core % "
        "| CPU µs/req, whole run | max RSS MiB | errors | runs |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, r in rows.items():
        spread = fmt(r["spread"], ".1f") + ("%" if r["spread"] is not None else "")
        lines.append(
            f"| {tools[name].label} | {fmt(r['rate'], ',.0f')} | {spread} | "
            f"{ratio(r['rate'], wrk)} | {ratio(r['rate'], mite)} | "
            f"{fmt(r['cpu_us_window'], ',.1f')} | {fmt(r['core'], '.0f')} | "
            f"{fmt(r['cpu_us'], ',.1f')} | {fmt(r['rss'], ',.1f')} | "
            f"{fmt(r['errors'], ',d')} | {r['reps']}/{r['of']} |"
        )
    return lines


def verdict(holds):
    return {True: "holds", False: "**does not hold**", None: "not measured"}[holds]


def targets(summaries, long_run):
    """(target, what was measured, holds: True/False/None) for each mite-rs target."""

    def get(shape, tool, key="rate"):
        return (summaries.get(shape, {}).get(tool) or {}).get(key)

    def at_least(what, shape, base, share, as_percent):
        rs, other = get(shape, "mite-rs"), get(shape, base)
        if not (rs and other):
            return what, f"mite-rs and {base} both needed", None
        ratio = rs / other
        shown = f"{ratio * 100:.0f}%" if as_percent else f"{ratio:.2f}×"
        shown += f" ({rs:,.0f} vs {other:,.0f} req/s)"
        return what, shown, ratio >= share

    rate_c, rss_c = get("c", "mite-rs"), get("c", "mite-rs", "rss")
    off = (rate_c - PACED_RATE) / PACED_RATE * 100 if rate_c else None
    return [
        at_least("(a) mite-rs ≥ 6× original mite's rate", "a", "mite", 6, False),
        at_least("(a) mite-rs ≥ 40% of wrk's rate", "a", "wrk", 0.40, True),
        at_least("(b) mite-rs ≥ 50% of wrk's rate", "b", "wrk", 0.50, True),
        (
            "(c) mite-rs holds the scheduled 10,000 req/s within 5%",
            f"{rate_c:,.0f} req/s ({off:+.1f}%)" if rate_c else "mite-rs on (c) needed",
            None if off is None else abs(off) <= 5,
        ),
        (
            "(c) mite-rs max RSS under 150 MiB",
            f"{rss_c:,.1f} MiB" if rss_c else "mite-rs on (c) needed",
            None if rss_c is None else rss_c < 150,
        ),
        long_run_target(long_run),
    ]


def long_run_change(long_run):
    """RSS after the first minute, at the end, and the change in %."""
    samples = long_run["samples"]
    after_minute = [rss for t, rss in samples if t >= 60]
    if not after_minute:
        return None, None, None
    minute, end = after_minute[0], samples[-1][1]
    return minute, end, (end - minute) / minute * 100


def long_run_target(long_run):
    what = "(a) for 10 minutes: RSS at the end within 5% of RSS after the first minute"
    if not long_run:
        return what, "run `bench/run --long-run`", None
    minute, end, change = long_run_change(long_run)
    return (
        what.replace("10 minutes", duration(long_run["seconds"])),
        f"{fmt(minute, '.1f')} → {fmt(end, '.1f')} MiB ({fmt(change, '+.1f')}%)",
        None if change is None else abs(change) <= 5,
    )


def duration(seconds):
    return f"{seconds / 60:g} minutes" if seconds % 60 == 0 else f"{seconds:g} s"


def long_run_section(long_run):
    minute, end, change = long_run_change(long_run)
    what, measured, holds = long_run_target(long_run)
    return "\n".join(
        [
            LONG_RUN_BEGIN,
            f"<!-- bench/run long-run data: {json.dumps(long_run)} -->",
            f"## Long run: mite-rs on shape (a) for {duration(long_run['seconds'])}",
            "",
            f"Written {long_run['written']}. {long_run['rate']:,.0f} req/s (counted by nginx); "
            f"RSS {fmt(minute, '.1f')} MiB after the first minute, "
            f"{fmt(end, '.1f')} MiB at the end ({fmt(change, '+.1f')}%); "
            f"max RSS {long_run['max_rss_mib']:.1f} MiB; exit code {long_run['exit_code']}.",
            "",
            f"- {what}: {measured} — {verdict(holds)}",
            "",
            "RSS (MiB) every 10 s: " + ", ".join(f"{rss:.1f}" for _, rss in long_run["samples"]),
            LONG_RUN_END,
        ]
    )


def previous_long_run(path):
    """The long run recorded in an existing results file, if any."""
    found = LONG_RUN_DATA.search(path.read_text()) if path.exists() else None
    return json.loads(found.group(1)) if found else None


def write_long_run(path, long_run):
    """Replace (or add) the long-run section of a results file, keeping the rest."""
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    section = long_run_section(long_run)
    # The targets list of a full run names the long run's outcome too: keep it in step.
    what, measured, holds = long_run_target(long_run)
    target_line = re.compile(r"^- \(a\) for [^:\n]*: RSS at the end within 5%[^\n]*$", re.M)
    old = target_line.sub(lambda _: f"- {what}: {measured} — {verdict(holds)}", old, count=1)
    if LONG_RUN_BEGIN in old and LONG_RUN_END in old:
        start, end = old.index(LONG_RUN_BEGIN), old.index(LONG_RUN_END) + len(LONG_RUN_END)
        text = old[:start] + section + old[end:]
    else:
        text = old.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)
    log(f"wrote {path}")


def machine_info():
    model = re.search(r"Model name:\s*(.+)", run(["lscpu"], check=False).stdout)
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    governor = Path(f"/sys/devices/system/cpu/cpu{TOOL_CPU}/cpufreq/scaling_governor")
    return {
        "CPU": model.group(1).strip() if model else platform.processor() or "?",
        "cores": f"{os.cpu_count()}; the server on CPU {SERVER_CPU}, the load generator on "
        f"CPU {TOOL_CPU}",
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "OS": platform.freedesktop_os_release().get("PRETTY_NAME", "?"),
        "CPU governor": governor.read_text().strip() if governor.exists() else "n/a",
        "python (bench/run)": platform.python_version(),
        "nice (bench/run)": str(os.nice(0)),
    }


def versions(tools, tool_names, shapes):
    out = {}
    if set(shapes) - {"d"}:
        nginx = run([shutil.which("nginx") or "/usr/sbin/nginx", "-v"], check=False)
        out["nginx"] = (nginx.stderr or nginx.stdout).strip().split("/")[-1]
    for name in tools:
        if name in tool_names or (name == "mite-rs" and "d" in shapes):
            try:
                out[tools[name].label] = tools[name].version()
            except Exception as e:  # a version is worth a note, not a failed run
                out[tools[name].label] = f"? ({e})"
    return out


def results_markdown(command, reps, seconds, tools, tool_names, shapes, results, long_run):
    summaries = {key: summarise(results, tool_names, key) for key in shapes}
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{command}` on {now()}: {reps} × {seconds:g} s per tool and shape, "
        "medians. Requests are counted by the server (nginx `stub_status`) unless a note says "
        "otherwise. *CPU µs/req* is the tool's user + system CPU during the measured window "
        "per request in it, *core %* the same CPU as a share of one core; *whole run* divides "
        "the CPU of the tool's whole life (start-up, ramp and shutdown included) by all its "
        "requests; CPU and max RSS are GNU time's. *spread* is (max − min) / median of the "
        "repetitions' rates. bench/README.md says more.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine_info().items()],
        "",
        "## Versions",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in versions(tools, tool_names, shapes).items()],
        "",
        "## mite-rs targets",
        "",
        *[
            f"- {what}: {measured} — {verdict(holds)}"
            for what, measured, holds in targets(summaries, long_run)
        ],
        "",
    ]
    notes = Path(__file__).resolve().parent.parent / "what-moved-the-numbers.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    for key in shapes:
        rows = summaries[key]
        lines += [f"## ({key}) {SHAPES[key].title}", ""]
        if rows:
            lines += [*shape_table(rows, tools, key), ""]
        for name in tool_names:
            tool = tools[name]
            notes = [tool.notes.get(key) or ("" if name in rows else "not run on this shape.")]
            if name in rows and rows[name]["problems"]:
                notes.append(f"Problems: {'; '.join(rows[name]['problems'])}.")
            if any(notes):
                lines.append(f"- {tool.label}: {' '.join(n for n in notes if n)}")
        lines.append("")
    if long_run:
        lines += [long_run_section(long_run), ""]
    return "\n".join(lines)


def print_summary(results, tools, tool_names, shapes):
    for key in shapes:
        rows = summarise(results, tool_names, key)
        if rows:
            print(f"\n({key}) {SHAPES[key].title}")
            print("\n".join(shape_table(rows, tools, key)))
    print()

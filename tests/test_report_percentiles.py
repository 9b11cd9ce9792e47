"""`--report` percentiles of a known distribution: the demo app's `/delay/<ms>` answers after
the given delay, so a journey alternating 10 ms and 50 ms requests has its lower quartile just
above 10 ms and its upper quartile just above 50 ms."""

import re

JOURNEY = """\
import itertools

from mite.scenario import StopVolumeModel
from mite_http import mite_http

delays = itertools.cycle([10, 50])


@mite_http
async def journey(ctx):
    await ctx.http.get(f"{app}/delay/{{next(delays)}}")


def volume(start, end):
    if start >= 6:
        raise StopVolumeModel
    return 4


def scenario():
    return [["delays:journey", None, volume]]
"""

PERCENTILE_LINE = re.compile(r"Response time at (\d+)th percentile exceeded 1ms: ([\d.]+)(ms|s)")


def test_report_percentiles_of_a_known_distribution(mite_project, demo_app):
    mite_project.write("delays.py", JOURNEY.format(app=demo_app))
    finished = mite_project.run(
        "scenario",
        "test",
        "delays:scenario",
        "--report",
        # Thresholds of 1 ms make every percentile a logged failure that carries its value.
        "--benchmark-percentiles=25:1,75:1,99:1",
    )
    assert finished.returncode == 1, finished.stderr[-2000:]
    seen = {
        int(p): float(v) / (1000 if unit == "ms" else 1)
        for p, v, unit in PERCENTILE_LINE.findall(finished.stderr)
    }
    assert set(seen) == {25, 75, 99}, finished.stderr[-2000:]
    assert 0.010 <= seen[25] < 0.018, seen
    assert 0.050 <= seen[75] < 0.060, seen
    assert seen[75] <= seen[99] < 0.080, seen
    assert "Latency" in finished.stdout

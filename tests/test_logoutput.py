"""`mite.logoutput`: mite's console processors as Python classes that a project subclasses and
names in `--message-processors` (the plain names keep running natively)."""

import logging

import pytest

import mite.logoutput
from mite.logoutput import FinagleStatsOutput, HttpStatsOutput, MsgOutput

SCENARIO = """
import asyncio
from mite.scenario import StopVolumeModel

async def journey(ctx):
    ctx.send("http_metrics", total_time=0.02, download_size=10)
    ctx.send("finagle_metrics", total_time=0.5)
    await asyncio.sleep(0.05)

def volume(start, end):
    if start > 3:
        raise StopVolumeModel
    return 2

def scenario():
    return [("project:journey", None, volume)]
"""

PROCESSORS = """
from mite.logoutput import HttpStatsOutput

class Counting(HttpStatsOutput):
    log_name = "Counted"

    def __init__(self, opts):
        super().__init__(opts)
        self.seen = 0

    def process_message(self, message):
        if message.get("type") == "http_metrics":
            self.seen += 1
        super().process_message(message)

    def print_output(self, t):
        self._logger.info(f"counted {self.seen} so far")
        super().print_output(t)
"""


def test_a_subclass_and_finagles_stats_print_mites_lines(mite_project):
    mite_project.write("project.py", SCENARIO)
    mite_project.write("processors.py", PROCESSORS)
    result = mite_project.run(
        "scenario",
        "test",
        "project:scenario",
        "--message-processors=processors:Counting,mite.logoutput:FinagleStatsOutput",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr_lines
    counted = [line for line in lines if "[Counted Stats]" in line]
    assert any("counted " in line for line in counted), result.stderr
    assert any("Total> #Reqs:" in line for line in counted), result.stderr
    window = [line for line in counted if "Last 2 Secs> #Reqs:" in line]
    assert window and "min:0.020000" in window[0] and "max:0.020000" in window[0], window
    finagle = [line for line in lines if "[Finagle Stats]" in line and "Last 2 Secs>" in line]
    assert finagle and "50%:0.500000" in finagle[0], result.stderr
    # The native HTTP stats processor was not asked for.
    assert not any("[Http Stats]" in line for line in lines), result.stderr


def test_the_stats_figures_follow_the_messages(monkeypatch):
    clock = iter([100.0, 100.5, 101.0, 102.5, 103.0, 105.5])
    monkeypatch.setattr(mite.logoutput.time, "time", lambda: next(clock))
    stats = HttpStatsOutput({"--benchmark-percentiles": "50:0,90:0"})
    for total in [0.1, 0.2, 0.3, 0.4]:
        stats.process_message({"type": "http_metrics", "total_time": total})
    stats.process_message({"type": "exception", "journey": "j"})
    stats.process_message({"type": "txn"})  # ends the second window
    assert stats.error_total == 1
    assert stats.min_resp_time_recent == 0.1 and stats.max_resp_time_recent == 0.4
    assert stats.mean_resp_time == pytest.approx(0.25)
    assert [p for p, _threshold, _value in stats.percentiles_list_resp_time_store] == [50, 90]
    assert len(stats._req_sec_store) == 2


def test_msg_output_logs_journey_errors_with_their_stack_trace(caplog):
    caplog.set_level(logging.DEBUG, logger="MSG")
    output = MsgOutput({})
    output.process_message(
        {
            "type": "exception",
            "time": 1.5,
            "journey": "j",
            "ex_type": "ValueError",
            "message": "bad",
            "stacktrace": "  File x, line 1",
        }
    )
    output.process_message({"type": "txn", "time": 2.0, "transaction": "t"})
    warning, debug = caplog.records
    assert (
        warning.getMessage() == "[exception] 1.500000 journey=j\nValueError: bad\n  File x, line 1"
    )
    assert debug.getMessage() == "[txn] 2.000000 transaction=t"


def test_the_classes_are_mites_shape():
    assert issubclass(FinagleStatsOutput, mite.logoutput.GenericStatsOutput)
    assert "http_metrics" in HttpStatsOutput.message_types
    assert HttpStatsOutput.log_name == "Http"

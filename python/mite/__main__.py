"""\
Usage:
    mite [options] scenario test [--add-to-config=NEW_VALUE]... [--message-processors=PROCESSORS] [--memory-tracing] SCENARIO_SPEC
    mite [options] journey test [--add-to-config=NEW_VALUE]... [--message-processors=PROCESSORS] [--memory-tracing] JOURNEY_SPEC [DATAPOOL_SPEC]
    mite [options] journey run [--add-to-config=NEW_VALUE]... [--message-processors=PROCESSORS] JOURNEY_SPEC [DATAPOOL_SPEC]
    mite --help
    mite --version

Arguments:
    SCENARIO_SPEC           module:function returning (journey_spec, datapool, volume_model) triples
    JOURNEY_SPEC            module:function, an async journey taking ctx (and datapool item fields)
    DATAPOOL_SPEC           module:attribute, a datapool object

Options:
    -h --help                               Show this screen
    --version                               Show the version
    --debugging                             Post-mortem debugging of journey errors, then exit
    --memory-tracing                        Log the top allocations every 60 seconds
    --log-level=LEVEL                       Logging level [default: INFO]
    --config=CONFIG_SPEC                    Callable returning the initial config [default: mite.config:default_config_loader]
    --add-to-config=NEW_VALUE               key:value added to the config
    --spawn-rate=NUM_PER_SECOND             Journeys/s by which concurrency may grow [default: 1000]
    --max-loop-delay=SECONDS                Seconds between volume model evaluations [default: 1]
    --min-loop-delay=SECONDS                Accepted, unused [default: 0]
    --runner-max-journeys=NUMBER            Accepted, unused
    --delay-start-seconds=DELAY             Seconds before the test starts [default: 0]
    --volume=VOLUME                         Concurrency for journey test [default: 1]
    --exclude-working-directory             Do not put the working directory on sys.path
    --collector-dir=DIRECTORY               Collector directory [default: collector_data]
    --collector-filter=SPEC                 module:function(raw_bytes) -> bool choosing messages to keep
    --collector-roll=NUM_LINES              Messages per collector file [default: 100000]
    --collector-use-json                    Collector files as JSON lines
    --recorder-dir=DIRECTORY                Recorder directory [default: recorder-data]
    --message-processors=PROCESSORS         Comma-separated module:Class processors [default: mite.logoutput:HttpStatsOutput,mite.logoutput:MsgOutput]
    --journey-logging                       Per-journey error totals in the stats lines
    --report                                Benchmark report at the end
    --hide-constant-logs                    No periodic stats lines
    --max-errors-threshold=THRESHOLD        Fail when journey errors exceed this [default: 0]
    --max-response-time-threshold=THRESHOLD             Fail above this max response time in ms [default: 0]
    --mean-response-time-threshold=THRESHOLD            Fail above this mean response time in ms [default: 0]
    --standard-deviation-response-time-threshold=THRESHOLD  Fail above this response time stdev in ms [default: 0]
    --standard-deviation-req-sec-threshold=THRESHOLD    Fail above this req/s stdev [default: 0]
    --benchmark-percentiles=NEW_VALUE       percentile:threshold_ms pairs [default: 50:0,90:0,98:0,99:0]
    --asyncio-tasks                         Run journeys as plain asyncio Tasks (no Rust driver)
"""

import sys


def main():
    """The ``mite`` command: parsing and running happen in the native core."""
    from mite._mite import cli_main

    sys.exit(cli_main(sys.argv))


if __name__ == "__main__":
    main()

"""The benchmark harness behind bench/run: servers, tools, one measurement, the report."""

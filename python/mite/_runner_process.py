"""The runner processes `mite scenario test --runners N` starts run this module.

A runner must import what the starting process imported, so its ``sys.path`` is the one the
starting process had after calling the scenario function (``MITE_RUNNER_SYS_PATH``, JSON), not
the one ``python -m`` would make for it.
"""

import json
import os
import sys


def main():
    path = os.environ.pop("MITE_RUNNER_SYS_PATH", None)
    if path is not None:
        sys.path[:] = json.loads(path)
    from mite._mite import cli_main

    sys.exit(cli_main(["mite", "runner", *sys.argv[1:]]))


if __name__ == "__main__":
    main()

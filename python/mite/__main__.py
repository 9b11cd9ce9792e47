"""The ``mite`` command.

The command line is defined in the native core (clap): ``mite --help`` lists the commands and
``mite COMMAND --help`` their options.
"""

import sys


def main():
    """The ``mite`` command: parsing and running happen in the native core."""
    from mite._mite import cli_main

    sys.exit(cli_main(sys.argv))


if __name__ == "__main__":
    main()

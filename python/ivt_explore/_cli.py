"""The ``ivt-explore`` command a ``pip install`` puts on the PATH: the program itself (CLI and
explorer), compiled into the package's native module, run in this process."""

import sys

from . import _native


def main():
    # The program prints its own errors and parses its own arguments (--help included).
    sys.exit(_native.run_cli(["ivt-explore", *sys.argv[1:]]))

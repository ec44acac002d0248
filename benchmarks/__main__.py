"""`python -m benchmarks [name ...]`: run the benchmarks and print their tables."""

from __future__ import annotations

import argparse
import platform
import sys

from benchmarks import challenges, knowledge, pairing, roundtrip, soak, web
from benchmarks._table import print_table

SUITES = {
    "knowledge": knowledge.run,
    "roundtrip": roundtrip.run,
    "challenges": challenges.run,
    "soak": soak.run,
    "pairing": pairing.run,
    "web": web.run,
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("suites", nargs="*", metavar="suite", help=f"one of {', '.join(SUITES)} (default: all)")
    args = parser.parse_args()
    unknown = [name for name in args.suites if name not in SUITES]
    if unknown:
        parser.error(f"unknown suite {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    print(f"Python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    for name in args.suites or list(SUITES):
        rows, notes = SUITES[name]()
        print_table(name, rows)
        for note in notes:
            print(f"  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m benchmarks` (what `make bench` runs): the whole suite, see benchmarks/suite.py.
Each `bench_*` module also runs on its own: `python -m benchmarks.bench_book`."""
from __future__ import annotations

import sys

from benchmarks.suite import main

if __name__ == "__main__":
    sys.exit(main())

"""Run every `bench_*` module in this package (each exposes `main() -> None`)."""
from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    only = set(sys.argv[1:])  # optional: `python -m benchmarks bench_book`
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_") and (not only or m.name in only)
    )
    for name in names:
        print(f"== {name}", flush=True)
        importlib.import_module(f"{__package__}.{name}").main()
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

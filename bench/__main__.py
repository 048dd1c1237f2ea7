"""Run every benchmark: import each bench/bench_*.py in name order and call its main().

Nothing is caught: a failing benchmark fails `make bench`. `python -m bench sandbox extract` runs only
the modules whose names contain one of the words given.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(path.stem for path in Path(__file__).parent.glob("bench_*.py"))
    if argv:
        names = [name for name in names if any(word in name for word in argv)]
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        saved = dict(os.environ)
        try:
            importlib.import_module(f"bench.{name}").main()
        finally:
            # A benchmark may point the environment at its own sandbox and files: none leaks into the next.
            os.environ.clear()
            os.environ.update(saved)
        print(f"--- {name}: {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Run every benchmark, or those named: ``python -m bench [predict tracker correlate stream]``.

Each ``bench/<name>.py`` has a ``main()`` that prints its own table. Benchmarks measure; they
never assert a time, so a slow machine gives slow figures rather than a failure.
"""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = [
    "predict",
    "tracker",
    "correlate",
    "pipeline",
    "broker",
    "stream",
    "orbits",
    "linking",
]


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or BENCHMARKS
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    for name in names:
        print(f"\n=== bench/{name}.py ===", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"bench.{name}").main()
        print(f"(bench/{name}.py took {time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

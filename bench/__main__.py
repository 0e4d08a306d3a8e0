"""Run every benchmark, or those named: ``python -m bench [--quick] [predict tracker ...]``.

Each ``bench/<name>.py`` has a ``main(argv)`` that prints its own table, and a quick mode
(``--quick``: the same measurement on less work, to check it still runs; its figures are not
the ones to quote). Benchmarks measure; they never assert a time, so a slow machine gives slow
figures rather than a failure.
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
    "scale",
    "records",
    "replay",
    "identification",
    "orbits",
    "linking",
    "broker",
    "processor",
    "stream",
    "failover",
    "sensors",
    "workers",
]


def main(argv: list[str] | None = None) -> int:
    args = list(argv if argv is not None else sys.argv[1:])
    quick = "--quick" in args
    names = [a for a in args if a != "--quick"] or BENCHMARKS
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    for name in names:
        print(f"\n=== bench/{name}.py ===", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"bench.{name}").main(["--quick"] if quick else [])
        print(f"(bench/{name}.py took {time.perf_counter() - started:.1f} s)", flush=True)
    from .goals import summary

    if summary():
        print(f"\n{summary()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The benchmarks still run: each cheap one's quick mode, end to end, in its own process.

Two benchmarks were once broken by a refactor without anyone noticing; this runs the quick
mode of every benchmark that needs no broker (``bench/broker.py`` and ``bench/stream.py`` do;
``bench/orbits.py`` is left to ``make bench`` for its time) and checks that it printed its
figures. It never asserts a time: the figures of a quick run on a shared machine mean nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Per benchmark: patterns its output must hold (its figures, not their values).
PRINTS = {
    "predict": [r"CPU time per frame time, \d+ objects", r"ms with the GridPropagator"],
    "tracker": [r"^\s+1000\s+10\s+\d+\s+[\d,]+\s+[\d,]+", r"kd-tree\s+50\s+10\s+[\d,]+\s+[\d,]+"],
    "correlate": [r"kitt-peak\s+1 day\s+1000", r"iss-camera\s+7 days\s+1000"],
    "pipeline": [
        r"[\d,]+ detections/s, [\d.]+ ms/frame",
        r"CPU [\d.]+ s -> [\d,]+ detections/s, [\d.]+ ms/frame",
        r"tracker [\d.]+ ms/frame, prediction [\d.]+ ms/frame, correlation [\d.]+ ms/frame",
        r"\d+ ms CPU per frame -> [\d,]+ detections/s",
        r"peak resident memory \d+ MB",
    ],
    "scale": [r"^\s+11,9\d\d\s+[\d.]+\s+\d+\s+[\d.]+\s+\d+\s+[\d.]+$", r"^\s+40,000\s+[\d.]+"],
    # The bulk encoders the engine uses write pydantic's bytes: "yes" is a check, not a time.
    "records": [
        r"track updates\s+\d+\s+orjson json_lines\(models\)\s+[\d.]+\s+[\d.]+x yes",
        r"track updates\s+\d+\s+orjson TrackBatch columns\s+[\d.]+\s+[\d.]+x yes",
        r"associations\s+\d+\s+orjson json_lines\(models\)\s+[\d.]+\s+[\d.]+x yes",
    ],
    "replay": [
        r"orbitlink\s+[\d.]+\s+[\d.]+\s+[\d,]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+",
        r"Stone Soup\s+[\d.]+\s+[\d.]+\s+[\d,]+",
        r"Stone Soup / orbitlink: \d+x CPU time, \d+x wall time",
    ],
    "identification": [r"^pooled\s+\d+\s+[\d.]+%", r"goals, pooled over seeds:"],
}


@pytest.mark.parametrize("name", sorted(PRINTS))
def test_quick_mode_runs_and_prints_its_figures(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for pattern in PRINTS[name]:
        assert re.search(pattern, done.stdout, re.MULTILINE), (pattern, done.stdout[-3000:])


def test_every_benchmark_has_a_quick_mode() -> None:
    from bench.__main__ import BENCHMARKS

    for name in BENCHMARKS:
        source = (REPO / "bench" / f"{name}.py").read_text()
        assert '"--quick"' in source, name

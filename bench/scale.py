"""Per-frame cost of sparse frames against the size of the catalogue.

The default simulated scenario (seed 1: four sensors, a few detections a frame) runs through
the pipeline with the shipped catalogue (~12k objects) and with that catalogue scaled to
about 40k and 100k objects by copies of every element set with its mean anomaly and node
shifted (:func:`scaled_catalogue`, a benchmark helper, not part of the library). It prints
the CPU time per frame, the share spent rebuilding the sensors' candidates
(:class:`~orbitlink.tracking.candidates.CandidateCache`: one whole-catalogue look per sensor
and grid node), the candidates a frame searches, and the same frames with the whole
catalogue predicted and searched every frame. With the cache the per-frame cost is that of
the candidates plus the amortised rebuilds; without it, it grows with the catalogue.

Run: ``python -m bench scale`` or ``python -m bench.scale [--quick]`` (``--quick``: 12k and
40k objects, the first 120 frames).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sgp4.api import WGS72, Satrec

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orbitlink.tracking import candidates as candidates_module
from orbitlink.tracking.catalogue import Catalogue, ElementSet
from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors
from orbitlink.tracking.pipeline import Pipeline
from orbitlink.tracking.simulate import simulate_scenario

REPO = Path(__file__).resolve().parent.parent
CATALOG = REPO.parent / "shared" / "data" / "catalog" / "celestrak-2026-05-30"
SGP4_EPOCH_JD = 2433281.5  # sgp4init counts epochs in days from 1949 December 31 0h UT
GOLDEN_ANGLE_RAD = math.pi * (3.0 - math.sqrt(5.0))


def scaled_catalogue(catalogue: Catalogue, size: int) -> Catalogue:
    """``catalogue`` and copies of its element sets, ``size`` sets in all: copy ``c`` of a set
    has its mean anomaly and node turned by ``c`` golden angles and ``c`` times 0.1 rad, and
    NORAD id ``c * 1_000_000 + id``; the other elements, epoch and drag are the original's."""
    rows = list(catalogue._rows)
    copies = 1
    while len(rows) < size:
        for row in catalogue._rows:
            if len(rows) >= size:
                break
            s = row.satrec
            twin = Satrec()
            twin.sgp4init(
                WGS72,
                "i",
                s.satnum,
                s.jdsatepoch + s.jdsatepochF - SGP4_EPOCH_JD,
                s.bstar,
                s.ndot,
                s.nddot,
                s.ecco,
                s.argpo,
                s.inclo,
                (s.mo + copies * GOLDEN_ANGLE_RAD) % (2 * math.pi),
                s.no_kozai,
                (s.nodeo + 0.1 * copies) % (2 * math.pi),
            )
            rows.append(
                ElementSet(
                    copies * 1_000_000 + row.norad_id,
                    row.name,
                    row.line1,
                    row.line2,
                    twin,
                    row.epoch_unix_s,
                )
            )
        copies += 1
    return Catalogue(rows)


def _run(frames, sensors, catalogue: Catalogue, use_cache: bool) -> dict[str, float]:
    pipeline = Pipeline(sensors, catalogue)
    if not use_cache:
        pipeline._candidates_of = lambda sensor: None
    rebuild = [0.0]
    select = candidates_module.CandidateCache._select

    def timed_select(self, *args, **kwargs):
        started = time.process_time()
        try:
            return select(self, *args, **kwargs)
        finally:
            rebuild[0] += time.process_time() - started

    sizes: list[int] = []
    index_for = candidates_module.CandidateCache.index_for

    def counted(self, *args, **kwargs):
        index = index_for(self, *args, **kwargs)
        sizes.append(len(catalogue) if index is None else len(index))
        return index

    candidates_module.CandidateCache._select = timed_select
    candidates_module.CandidateCache.index_for = counted
    states: dict[str, bytes] = {}
    try:
        started = time.process_time()
        for frame in frames:
            result = pipeline.process(frame, states.get(frame.sensor_id))
            states[frame.sensor_id] = result.state
        cpu_s = time.process_time() - started
    finally:
        candidates_module.CandidateCache._select = select
        candidates_module.CandidateCache.index_for = index_for
    return {
        "ms_per_frame": 1e3 * cpu_s / len(frames),
        "rebuild_ms_per_frame": 1e3 * rebuild[0] / len(frames),
        "candidates": float(np.median(sizes)) if sizes else float("nan"),
        "rebuilds": float(sum(c.rebuilds for c in pipeline._candidates.values())),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="12k and 40k, 120 frames")
    args = parser.parse_args([] if argv is None else argv)
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "scenario"
        simulate_scenario(CATALOG, scenario, seed=1)
        frames = list(iter_frames_jsonl(scenario / "frames.jsonl"))
        sensors = read_sensors(scenario / "sensors.json")
        base = Catalogue.from_path(scenario / "catalog")
    if args.quick:
        frames = frames[:120]
    sizes = [len(base), 40_000] if args.quick else [len(base), 40_000, 100_000]
    print(
        f"sparse frames: default scenario (seed 1), {len(frames)} frames of 4 sensors, "
        f"{sum(len(f.detections) for f in frames) / len(frames):.1f} detections a frame; "
        "CPU time of one core"
    )
    print(
        f"{'catalogue':>10} {'ms/frame':>9} {'rebuilds':>9} {'of which':>9} "
        f"{'candidates':>10} {'whole catalogue':>16}"
    )
    print(
        f"{'objects':>10} {'(cache)':>9} {'':>9} {'ms/frame':>9} {'per frame':>10} {'ms/frame':>16}"
    )
    for size in sizes:
        catalogue = scaled_catalogue(base, size)
        _run(frames[:8], sensors, catalogue, True)  # warm-up: lazy imports, satrec arrays
        cached = _run(frames, sensors, catalogue, True)
        whole = _run(frames, sensors, catalogue, False)
        print(
            f"{len(catalogue):>10,} {cached['ms_per_frame']:>9.2f} {cached['rebuilds']:>9.0f} "
            f"{cached['rebuild_ms_per_frame']:>9.2f} {cached['candidates']:>10.0f} "
            f"{whole['ms_per_frame']:>16.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])

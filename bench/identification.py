"""Identification on hard skies: the ``hard`` scenario preset over several seeds, and the goals.

For seeds 0..N-1 this simulates ``PRESETS["hard"]`` (a co-located GEO slot from Kitt Peak, a
GEO group tracked from Sapphire, a fresh Starlink train, a narrow field with 3-5 frame passes;
the 2026-05-26 snapshot as the engine's catalogue and the 2026-05-30 one as the truth, a fifth
of the objects withheld beside catalogued neighbours), replays each scenario offline with the
default pipeline settings (:func:`orbitlink.tracking.offline.run_offline`, as ``orbitlink
replay --offline``), scores it (:func:`orbitlink.tracking.evaluate.score`, as ``orbitlink
evaluate``), and prints the identification figures per seed, pooled (counts summed over
seeds), and their spread over seeds, each marked against the goal the engine must reach.

Only the noise, the detections, the brightness and the choice of withheld objects change with
the seed: the sky is the same real one, so the spread is that of what the sensors happened to
see. Run: ``python -m bench identification`` or ``python -m bench.identification [--seeds N]
[--out DIR] [--quick]`` (``--out`` keeps each seed's scenario and results there; ``--quick``
runs one seed of the hard preset).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.evaluate import Identification, read_run, score
from orbitlink.tracking.offline import run_offline
from orbitlink.tracking.simulate import PRESETS, simulate, write_scenario

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("ORBITLINK_SHARED_DATA", REPO.parent / "shared" / "data"))
ENGINE_CATALOGUE = SHARED_DATA / "catalog" / "celestrak-2026-05-26"
TRUTH_CATALOGUE = SHARED_DATA / "catalog" / "celestrak-2026-05-30"
DEFAULT_SEEDS = 5


@dataclass(frozen=True)
class Column:
    """One figure of the table: an :class:`Identification` property or count, and its goal.

    ``at_least``/``at_most`` is the goal (None: reported only). A figure that cannot be
    computed (no claim at all, say) misses its goal, except where ``vacuous`` says the goal
    holds when there is nothing to judge (no ambiguous claim: the truth is never outside the
    top two of one).
    """

    header: str
    figure: str
    what: str
    at_least: float | None = None
    at_most: float | None = None
    vacuous: bool = False
    share: bool = True  # printed as a percentage

    def value(self, counts: Identification) -> float:
        return float(getattr(counts, self.figure))

    def met(self, value: float) -> bool | None:
        """True/False against the goal; None when the column has no goal."""
        if self.at_least is None and self.at_most is None:
            return None
        if not math.isfinite(value):
            return self.vacuous
        if self.at_least is not None and value < self.at_least:
            return False
        return not (self.at_most is not None and value > self.at_most)

    def text(self, value: float) -> str:
        if not math.isfinite(value):
            return "n/a"
        if self.share:
            return f"{100.0 * value:.1f}%"
        return f"{value:.0f}" if value == round(value) else f"{value:.2f}"

    def goal(self) -> str:
        if self.at_least is not None:
            return f">= {self.text(self.at_least)}"
        if self.at_most is not None:
            return f"<= {self.text(self.at_most)}"
        return ""


COLUMNS = (
    Column("claims", "claims", "tracks whose final verdict names an object", share=False),
    Column(
        "unamb.prec",
        "unambiguous_precision",
        "precision of the claims not flagged ambiguous",
        at_least=0.99,
    ),
    Column(
        "named",
        "named_right_of_scored",
        "catalogued objects' scored tracks named right and unambiguously",
        at_least=0.95,
    ),
    Column(
        "named<=5sd",
        "named_right_within_error",
        "the same, over the objects whose element set is within 5 sigma of the truth (a set "
        "further off than its error allows is rightly left a UCT)",
    ),
    Column(
        "named/all",
        "named_right_of_tracks",
        "catalogued objects' tracks (scored or not) named right and unambiguously",
    ),
    Column("ambiguous", "ambiguous_share", "share of the claims flagged ambiguous", at_most=0.05),
    Column(
        "top-two",
        "ambiguous_top_two",
        "ambiguous claims whose chosen object or runner-up is the truth",
        at_least=1.0,
        vacuous=True,
    ),
    Column(
        "UCT out",
        "uct_recall",
        "withheld objects seen >= 3 times by a sensor that come out as a UCT of it",
        at_least=0.95,
    ),
    Column(
        "coverage",
        "scored_coverage",
        "objects seen >= 3 times by a sensor that are in a scored track of it",
        at_least=0.95,
    ),
    Column(
        "swaps",
        "swapped_tracks",
        "tracks that swap from one object to another",
        at_most=0.0,
        share=False,
    ),
    Column("flips/trk", "flips_per_track", "verdict changes per scored track", share=False),
    Column("flipping", "flipping_share", "scored tracks whose verdict ever changes"),
)


@dataclass(frozen=True)
class SeedResult:
    seed: int
    identification: Identification
    by_class: dict[str, Identification]
    seconds: tuple[float, float, float]  # simulate, replay, score
    n_frames: int
    n_detections: int
    n_withheld: int
    n_uncatalogued: int


def run_seed(
    engine: Catalogue, truth: Catalogue, seed: int, out: Path, *, preset: str = "hard"
) -> SeedResult:
    """Simulate ``preset`` for ``seed`` into ``out/scenario``, replay it into
    ``out/results``, and score it."""
    started = time.perf_counter()
    scenario = simulate(engine, seed=seed, settings=PRESETS[preset], truth_catalogue=truth)
    write_scenario(scenario, out / "scenario")
    simulated = time.perf_counter()
    run_offline(
        scenario.frames, scenario.sensors, scenario.catalogue, out / "results", progress=False
    )
    replayed = time.perf_counter()
    report = score(read_run(out / "scenario" / "truth.json", out / "results", frames=False))
    scored = time.perf_counter()
    return SeedResult(
        seed=seed,
        identification=report.identification,
        by_class=report.identification_by_class,
        seconds=(simulated - started, replayed - simulated, scored - replayed),
        n_frames=len(scenario.frames),
        n_detections=len(scenario.truth),
        n_withheld=len(scenario.withheld_norad_ids),
        n_uncatalogued=len(scenario.uncatalogued_norad_ids),
    )


def _pooled(counts: list[Identification]) -> Identification:
    total = Identification()
    for c in counts:
        total = total + c
    return total


def _mark(column: Column, value: float) -> str:
    met = column.met(value)
    return "" if met is None else (" " if met else "!")


def _row(label: str, values: list[float] | Identification, marks: bool = True) -> str:
    if isinstance(values, Identification):
        values = [column.value(values) for column in COLUMNS]
    cells = [
        f"{column.text(v) + (_mark(column, v) if marks else ''):>11}"
        for column, v in zip(COLUMNS, values)
    ]
    return f"{label:<10}" + "".join(cells)


def print_table(results: list[SeedResult]) -> None:
    """Per seed, pooled, spread and goals; "!" marks a figure that misses its goal."""
    print(f"{'':<10}" + "".join(f"{column.header:>11}" for column in COLUMNS))
    for result in results:
        print(_row(f"seed {result.seed}", result.identification))
    pooled = _pooled([r.identification for r in results])
    print(_row("pooled", pooled))
    per_seed = np.array([[c.value(r.identification) for c in COLUMNS] for r in results])
    with warnings.catch_warnings():  # a column without any value (no ambiguous claim) is NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        print(_row("min", list(np.nanmin(per_seed, axis=0)), marks=False))
        print(_row("max", list(np.nanmax(per_seed, axis=0)), marks=False))
        print(_row("mean", list(np.nanmean(per_seed, axis=0)), marks=False))
        print(_row("std", list(np.nanstd(per_seed, axis=0)), marks=False))
    print(f"{'goal':<10}" + "".join(f"{column.goal():>11}" for column in COLUMNS))
    print()
    for name in sorted({name for r in results for name in r.by_class}):
        counts = _pooled([r.by_class[name] for r in results if name in r.by_class])
        print(_row(f"{name} pooled", counts))
    print()
    verdicts = []
    for column in COLUMNS:
        value = column.value(pooled)
        met = column.met(value)
        if met is None:
            continue
        seeds_met = sum(bool(column.met(column.value(r.identification))) for r in results)
        verdicts.append(
            f"  {'met   ' if met else 'MISSED'} {column.header:<10} pooled {column.text(value):>7}"
            f" (goal {column.goal()}; met in {seeds_met} of {len(results)} seeds): {column.what}"
        )
    print("goals, pooled over seeds:")
    print("\n".join(verdicts))
    print("reported only:")
    for column in COLUMNS:
        if column.met(0.0) is None:
            print(f"  {column.header:<10} {column.what}")
    print(
        f"  max flips of one track: {pooled.max_flips}; scored tracks {pooled.scored_tracks}, "
        f"sightings {pooled.sightings} (of withheld objects {pooled.withheld_sightings})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.identification", description=__doc__)
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="seeds 0..N-1 (5)")
    parser.add_argument(
        "--preset",
        action="append",
        choices=("hard", "hard-week"),
        help="the scenario preset (repeatable; default: hard, then hard-week)",
    )
    parser.add_argument("--out", type=Path, help="keep each seed's scenario and results here")
    parser.add_argument("--quick", action="store_true", help="one seed of the hard preset")
    args = parser.parse_args(argv if argv is not None else [])
    if args.quick:
        args.seeds, args.preset = 1, args.preset or ["hard"]
    engine = Catalogue.from_path(ENGINE_CATALOGUE)
    truth = Catalogue.from_path(TRUTH_CATALOGUE)
    for preset in args.preset or ["hard", "hard-week"]:
        print(
            f"{preset} preset ({PRESETS[preset].start_time}), seeds 0..{args.seeds - 1}: engine "
            f"catalogue {ENGINE_CATALOGUE.name} ({len(engine)} objects), truth "
            f"{TRUTH_CATALOGUE.name} ({len(truth)})"
        )
        results = []
        with tempfile.TemporaryDirectory() as tmp:
            root = args.out / preset if args.out is not None else Path(tmp)
            for seed in range(args.seeds):
                result = run_seed(engine, truth, seed, root / f"seed-{seed}", preset=preset)
                results.append(result)
                sim_s, replay_s, score_s = result.seconds
                print(
                    f"  seed {seed}: {result.n_frames} frames, {result.n_detections} detections, "
                    f"{result.n_withheld} withheld ({result.n_uncatalogued} not in the older "
                    f"snapshot); simulate {sim_s:.1f} s, replay {replay_s:.1f} s, "
                    f"score {score_s:.1f} s",
                    flush=True,
                )
        print()
        print_table(results)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

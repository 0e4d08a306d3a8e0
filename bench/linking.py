"""UCT linking over several nights and sensors: completeness, purity, orbit error, cost.

Run: ``python -m bench linking`` or ``python bench/linking.py [--quick]``. Prints the figures
``docs/uct.md`` quotes.

The scenario: objects of the shipped catalogue withheld from the engine (LEO, Starlink,
OneWeb, GEO and HEO, drawn by seed), seen over ``NIGHTS`` nights by four sensors (two ground
GEO/LEO surveys, a LEO staring camera, a camera on NEOSSAT), each pass caught with
probability one half, plus tracklets of nothing (false tracks). The truth is the 2026-05-30
snapshot; the engine's stale catalogue is the 2026-05-26 one, against which the provisional
objects are identified at the end (a withheld object's four-day-old element set arriving
"late", among the whole stale catalogue).

**The tracklets are built from the truth directly** (:func:`orbitlink.tracking.linking.passes.
simulate_passes`: what the pipeline would hand over for each UCT track, its detections
spread over the pass), not taken from the pipeline: the linker is judged on its own, on
passes of many nights that a simulated replay through the whole pipeline would take far longer
to produce (``tests/tracking/test_linking.py`` checks the pipeline's own tracklets).

Figures:

* *completeness*: of the withheld objects with two tracklets or more, the fraction whose
  tracklets all ended in one provisional object holding nothing else (goal >= 0.95);
* *purity*: of all links (a tracklet joining an object), the fraction that joined its own
  object's (goal >= 0.99); *false links* count the others, and the false tracklets linked;
* orbit error against the truth after 1, 2 and 3 tracklets (semi-major axis, inclination,
  position 24 h after the last tracklet), by orbit class; with SSAPy's least-squares fit of
  the same tracklets (from the same first guess) beside it where it is installed;
* the cost of one link attempt (median, 95th percentile, by stage) and of the provisional
  catalogue's update per frame.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.linking import Linker, LinkerSettings
from orbitlink.tracking.linking.passes import (
    PassSettings,
    SimulatedTracklet,
    false_tracklets,
    simulate_passes,
)
from orbitlink.tracking.models import Sensor
from orbitlink.tracking.orbit.elements import elements_from_state
from orbitlink.tracking.orbit.tle import sgp4_gcrs

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("ORBITLINK_SHARED_DATA", REPO.parent / "shared" / "data"))
TRUTH_DIR = DATA / "catalog" / "celestrak-2026-05-30"
STALE_DIR = DATA / "catalog" / "celestrak-2026-05-26"
START = datetime(2026, 5, 30, 12, 0, tzinfo=UTC).timestamp()
NIGHTS = 3
SEED = 11
NEOSSAT = 39089
#: Withheld objects per class (the full run; --quick takes a third).
CLASS_COUNTS = {"leo": 8, "starlink": 4, "oneweb": 2, "geo": 8, "heo": 2}
FALSE_TRACKLETS = 15


def sensors(catalogue: Catalogue) -> list[Sensor]:
    return [
        Sensor(
            sensor_id="ctio", lat_deg=-30.1690, lon_deg=-70.8063, alt_m=2207.0, sigma_arcsec=2.0
        ),
        Sensor(
            sensor_id="teide", lat_deg=28.3008, lon_deg=-16.5117, alt_m=2390.0, sigma_arcsec=3.0
        ),
        Sensor(
            sensor_id="kpno", lat_deg=31.9583, lon_deg=-111.5967, alt_m=2096.0, sigma_arcsec=5.0
        ),
        Sensor(
            sensor_id="neossat",
            tle=list(catalogue.lines[int(catalogue.index_of([NEOSSAT])[0])]),
            sigma_arcsec=4.0,
        ),
    ]


def orbit_class(catalogue: Catalogue, i: int) -> str:
    satrec = catalogue.satrecs[i]
    name = catalogue.names[i].upper()
    rev_day = satrec.no_kozai * 1440.0 / (2 * np.pi)
    if name.startswith("STARLINK"):
        return "starlink"
    if name.startswith("ONEWEB"):
        return "oneweb"
    if satrec.ecco >= 0.25:
        return "heo"
    if 0.9 < rev_day < 1.1:
        return "geo"
    if rev_day > 11.0:
        return "leo"
    return "other"


def withheld_objects(truth: Catalogue, stale: Catalogue, counts: dict[str, int], seed: int):
    """NORAD ids per class, drawn among objects in both snapshots (so that a stale set exists
    to identify them with), away from the sensors' own host."""
    rng = np.random.default_rng(seed)
    in_both = np.isin(truth.norad_ids, stale.norad_ids) & (truth.norad_ids != NEOSSAT)
    classes = np.array([orbit_class(truth, i) for i in range(len(truth))])
    chosen: dict[int, str] = {}
    for name, count in counts.items():
        pool = truth.norad_ids[in_both & (classes == name)]
        for norad in rng.choice(pool, size=min(count, len(pool)), replace=False):
            chosen[int(norad)] = name
    return chosen


@dataclass
class OrbitError:
    sma_km: float
    inclination_deg: float
    position_24h_km: float


@dataclass
class Run:
    tracklets: list[SimulatedTracklet]
    linker: Linker
    attempts: list = field(default_factory=list)
    # (uct_id, tracklets linked so far) -> the orbit error then
    errors: dict[str, list[tuple[int, OrbitError]]] = field(default_factory=dict)


def orbit_error(truth: Catalogue, norad: int, orbit, last_seen_s: float) -> OrbitError:
    satrec = truth.satrecs[int(truth.index_of([norad])[0])]
    epoch = orbit.epoch_unix_s
    r, v, _ = orbit.gcrs_state(epoch)
    _, rt, vt = sgp4_gcrs([satrec], [epoch])
    mine, true = elements_from_state(r, v), elements_from_state(rt[0, 0], vt[0, 0])
    later = last_seen_s + 86400.0
    _, rp, _ = sgp4_gcrs([orbit.elements.satrec()], [later])
    _, rl, _ = sgp4_gcrs([satrec], [later])
    return OrbitError(
        sma_km=float(abs(mine.semi_major_axis_km - true.semi_major_axis_km)),
        inclination_deg=float(abs(mine.inclination_deg - true.inclination_deg)),
        position_24h_km=float(np.linalg.norm(rp[0, 0] - rl[0, 0])),
    )


def run_linker(truth: Catalogue, tracklets: list[SimulatedTracklet], settings: LinkerSettings):
    linker = Linker(settings)
    run = Run(tracklets, linker)
    owner_truth = {s.tracklet.track_id: s.norad_id for s in tracklets}
    for simulated in tracklets:
        started = time.perf_counter()
        changed = linker.link(simulated.tracklet)
        elapsed = time.perf_counter() - started
        run.attempts.append((linker.last_attempt, elapsed))
        for obj in changed:
            if obj.expired or obj.merged_into is not None or obj.orbit is None:
                continue
            ids = {owner_truth[t] for t in obj.track_ids}
            if len(ids) != 1 or None in ids:
                continue
            (norad,) = ids
            run.errors.setdefault(obj.uct_id, []).append(
                (len(obj.track_ids), orbit_error(truth, norad, obj.orbit, obj.last_seen_s))
            )
    return run


def link_figures(run: Run, classes: dict[int, str]) -> dict:
    truth_of = {s.tracklet.track_id: s.norad_id for s in run.tracklets}
    seen = Counter(s.norad_id for s in run.tracklets if s.norad_id is not None)
    findable = {n for n, k in seen.items() if k >= 2}
    objects = run.linker.objects
    # Links: each tracklet after an object's first joined it.
    links = wrong = false_joined = 0
    by_norad: dict[int, list] = defaultdict(list)
    for obj in objects:
        owners = [truth_of[t] for t in obj.track_ids]
        majority = Counter(owners).most_common(1)[0][0]
        for norad in owners[1:]:
            links += 1
            if norad != majority:
                wrong += 1
            if norad is None:
                false_joined += 1
        for norad in set(owners):
            by_norad[norad].append((obj, owners))
    complete = {
        n
        for n in findable
        if len(by_norad[n]) == 1
        and set(by_norad[n][0][1]) == {n}
        and len(by_norad[n][0][1]) == seen[n]
    }
    per_class = defaultdict(lambda: [0, 0])
    for n in findable:
        per_class[classes[n]][0] += 1
        per_class[classes[n]][1] += n in complete
    return dict(
        tracklets=len(run.tracklets),
        false_tracklets=sum(1 for s in run.tracklets if s.norad_id is None),
        objects=len(objects),
        findable=len(findable),
        complete=len(complete),
        links=links,
        wrong=wrong,
        false_joined=false_joined,
        per_class=dict(per_class),
        merged=sum(1 for obj in objects if len({truth_of[t] for t in obj.track_ids}) > 1),
    )


def _median(values) -> float:
    values = [v for v in values if np.isfinite(v)]
    return float(np.median(values)) if values else float("nan")


def _fmt(value: float, digits: int = 3) -> str:
    if not np.isfinite(value):
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:,.0f}"


def print_orbit_errors(run: Run, truth_of_object: dict[str, int], classes: dict[int, str]) -> None:
    rows: dict[tuple[str, int], list[OrbitError]] = defaultdict(list)
    for uct_id, history in run.errors.items():
        norad = truth_of_object.get(uct_id)
        if norad is None:
            continue
        for count, error in history:
            if count <= 3:
                rows[(classes[norad], count)].append(error)
    print(
        "| class | tracklets | orbits | median abs da km | median abs di deg "
        "| median 24 h position km |"
    )
    print("|---|---|---|---|---|---|")
    for name in CLASS_COUNTS:
        for count in (1, 2, 3):
            errors = rows.get((name, count), [])
            if not errors:
                print(f"| {name} | {count} | 0 | | | |")
                continue
            print(
                f"| {name} | {count} | {len(errors)} "
                f"| {_fmt(_median(e.sma_km for e in errors))} "
                f"| {_fmt(_median(e.inclination_deg for e in errors))} "
                f"| {_fmt(_median(e.position_24h_km for e in errors))} |"
            )


def print_costs(run: Run, frames_per_s: float) -> None:
    times = np.array([elapsed for _, elapsed in run.attempts])
    stages = defaultdict(list)
    for attempt, _ in run.attempts:
        for name, value in attempt.seconds.items():
            stages[name].append(value)
    print(
        f"one link attempt: median {1e3 * np.median(times):.0f} ms, 95th percentile "
        f"{1e3 * np.percentile(times, 95):.0f} ms, max {1e3 * times.max():.0f} ms "
        f"({len(times)} attempts, {len(run.linker)} objects at the end)"
    )
    print(
        "  by stage (median ms): "
        + ", ".join(f"{k} {1e3 * np.median(v):.1f}" for k, v in stages.items())
        + " (merge: over the attempts that linked)"
    )
    merges = sum(attempt.merged for attempt, _ in run.attempts)
    print(f"provisional objects merged into another after a link (found to be one): {merges}")
    # The update per frame: a frame hands over the tracklets of the UCT tracks that ended in
    # it. Here every tracklet ends in a frame of its own, so the update per frame with a
    # tracklet is one attempt, and per frame on average the attempts' total over the frames.
    span_s = max(s.tracklet.last_time_unix_s for s in run.tracklets) - min(
        s.tracklet.first_time_unix_s for s in run.tracklets
    )
    frames = span_s * frames_per_s
    print(
        f"catalogue update per frame: {1e3 * times.sum() / frames:.3f} ms on average over "
        f"{frames:,.0f} frames ({frames_per_s:g} frames/s for {span_s / 86400:.1f} days); a "
        f"frame that ends a UCT track pays one attempt"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.linking", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a third of the objects, 2 nights")
    parser.add_argument(
        "--seed", type=int, default=SEED, help=f"the draw of objects and passes ({SEED})"
    )
    args = parser.parse_args([] if argv is None else argv)
    quick, seed = args.quick, args.seed
    started = time.perf_counter()
    truth = Catalogue.from_path(TRUTH_DIR)
    stale = Catalogue.from_path(STALE_DIR)
    counts = {k: max(1, v // 3) for k, v in CLASS_COUNTS.items()} if quick else CLASS_COUNTS
    chosen = withheld_objects(truth, stale, counts, seed)
    rng = np.random.default_rng(seed)
    network = sensors(truth)
    nights = 2 if quick else NIGHTS
    tracklets = simulate_passes(
        truth, sorted(chosen), network, START, nights * 86400.0, rng, PassSettings()
    )
    noise = false_tracklets(
        network, START, nights * 86400.0, FALSE_TRACKLETS // (3 if quick else 1), rng
    )
    tracklets = sorted(tracklets + noise, key=lambda s: (s.tracklet.times[-1], s.tracklet.track_id))
    print(
        f"load average {os.getloadavg()[0]:.1f}; truth {TRUTH_DIR.name}, engine (stale) "
        f"{STALE_DIR.name}; {len(chosen)} withheld objects "
        f"({', '.join(f'{v} {k}' for k, v in Counter(chosen.values()).items())}), "
        f"{nights} nights, {len(network)} sensors; {len(tracklets)} tracklets "
        f"({len(noise)} false); seed {seed}"
    )
    print("tracklets built from truth detections grouped by pass, not by the pipeline\n")
    run = run_linker(truth, tracklets, LinkerSettings())
    figures = link_figures(run, chosen)
    completeness = figures["complete"] / max(figures["findable"], 1)
    purity = 1.0 - figures["wrong"] / max(figures["links"], 1)
    print(
        f"completeness {completeness:.3f} ({figures['complete']} of {figures['findable']} "
        f"objects seen in >= 2 tracklets end as one pure provisional object; goal 0.95)"
    )
    print(
        f"purity {purity:.4f} ({figures['links']} links, {figures['wrong']} false, "
        f"{figures['false_joined']} of {figures['false_tracklets']} false tracklets linked; "
        f"{figures['merged']} objects merged from two; goal 0.99)"
    )
    print(
        "by class (complete / findable): "
        + ", ".join(f"{k} {v[1]}/{v[0]}" for k, v in sorted(figures["per_class"].items()))
    )
    truth_of = {s.tracklet.track_id: s.norad_id for s in run.tracklets}
    truth_of_object = {}
    for obj in run.linker.objects:
        owners = {truth_of[t] for t in obj.track_ids}
        if len(owners) == 1:
            truth_of_object[obj.uct_id] = next(iter(owners))
    print("\norbit error against the truth after 1, 2 and 3 tracklets:\n")
    print_orbit_errors(run, truth_of_object, chosen)

    identified = run.linker.identify(stale)
    right = sum(1 for o in identified if truth_of_object.get(o.uct_id) == o.norad_id)
    print(
        f"\nidentified against the stale catalogue ({len(stale)} sets): {len(identified)} "
        f"objects, {right} with the right NORAD id, {len(identified) - right} wrong"
    )
    print()
    print_costs(run, frames_per_s=10.0)
    print(f"\n(took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])

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
  position 24 h after the last tracklet), by orbit class;
* the cost of one link attempt (median, 95th percentile, by stage) and of the provisional
  catalogue's update per frame;
* where SSAPy is installed (``make peers``; ``--no-peers`` leaves it out), the same figures
  for SSAPy's MHT linker on the same tracklets, on all of them and on those its tracklet
  model suits (GEO from the ground, where ours runs again beside it), and the orbit error
  of SSAPy's fit of each object's first 1, 2 and 3 tracklets (:mod:`bench.ssapy_peer`).
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
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import ssapy_peer
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
#: Two element sets whose positions stay this close over the scenario are one optical object
#: (modules docked to the ISS carry its element set): a sensor sees one point, so neither is
#: drawn as a withheld object of its own.
DOCKED_KM = 1.0
#: Withheld objects that stay this close to each other over the scenario fly in formation (the
#: four MMS spacecraft, 10-150 km apart at up to 150,000 km): the bench counts the false links
#: among them apart, as angles over a few passes barely tell such orbits apart.
FORMATION_KM = 200.0
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


def positions_over_km(satrecs, start_unix_s: float, duration_s: float) -> np.ndarray:
    """GCRS positions ``(K, T, 3)`` of the element sets at 25 times spread over the span, the
    samples the docked and formation tests judge "throughout" by."""
    _, r, _ = sgp4_gcrs(satrecs, start_unix_s + np.linspace(0.0, duration_s, 25))
    return r


def docked(catalogue: Catalogue, start_unix_s: float, duration_s: float) -> np.ndarray:
    """Which objects have another within ``DOCKED_KM`` at every sample over the span (one
    point to a sensor)."""
    r = positions_over_km(catalogue.satrecs, start_unix_s, duration_s)
    valid = np.isfinite(r).all(axis=(1, 2))
    rows = np.flatnonzero(valid)
    close = cKDTree(r[rows, 0]).query_pairs(DOCKED_KM, output_type="ndarray")
    a, b = rows[close[:, 0]], rows[close[:, 1]]
    together = (np.linalg.norm(r[a] - r[b], axis=-1) < DOCKED_KM).all(axis=1)
    mask = np.zeros(len(catalogue), dtype=bool)
    mask[a[together]] = mask[b[together]] = True
    return mask


def formations(
    catalogue: Catalogue, norad_ids, start_unix_s: float, duration_s: float
) -> dict[int, int]:
    """Each withheld object in a formation (another within ``FORMATION_KM`` throughout),
    mapped to the formation's lowest NORAD id."""
    norad_ids = sorted(norad_ids)
    satrecs = [catalogue.satrecs[int(i)] for i in catalogue.index_of(norad_ids)]
    r = positions_over_km(satrecs, start_unix_s, duration_s)
    apart = np.linalg.norm(r[:, None] - r[None, :], axis=-1).max(axis=-1)  # (K, K)
    _, group = connected_components(apart < FORMATION_KM, directed=False)
    sizes = np.bincount(group)
    lowest = {int(g): norad_ids[int(np.flatnonzero(group == g)[0])] for g in np.unique(group)}
    return {n: lowest[int(g)] for n, g in zip(norad_ids, group, strict=True) if sizes[g] > 1}


def withheld_objects(
    truth: Catalogue, stale: Catalogue, counts: dict[str, int], seed: int, duration_s: float
):
    """NORAD ids per class, drawn among objects in both snapshots (so that a stale set exists
    to identify them with), away from the sensors' own host and not docked to another."""
    rng = np.random.default_rng(seed)
    in_both = np.isin(truth.norad_ids, stale.norad_ids) & (truth.norad_ids != NEOSSAT)
    in_both &= ~docked(truth, START, duration_s)
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


def state_error(
    truth: Catalogue, norad: int, epoch_unix_s: float, r_km, v_km_s, later_unix_s: float, later_km
) -> OrbitError:
    """An orbit's error against the truth: its state at its epoch (semi-major axis and
    inclination) and ``later_km``, its position predicted at ``later_unix_s``."""
    satrec = truth.satrecs[int(truth.index_of([norad])[0])]
    _, rt, vt = sgp4_gcrs([satrec], [epoch_unix_s])
    mine, true = elements_from_state(r_km, v_km_s), elements_from_state(rt[0, 0], vt[0, 0])
    _, rl, _ = sgp4_gcrs([satrec], [later_unix_s])
    return OrbitError(
        sma_km=float(abs(mine.semi_major_axis_km - true.semi_major_axis_km)),
        inclination_deg=float(abs(mine.inclination_deg - true.inclination_deg)),
        position_24h_km=float(np.linalg.norm(np.asarray(later_km) - rl[0, 0])),
    )


def orbit_error(truth: Catalogue, norad: int, orbit, last_seen_s: float) -> OrbitError:
    epoch = orbit.epoch_unix_s
    r, v, _ = orbit.gcrs_state(epoch)
    later = last_seen_s + 86400.0
    _, rp, _ = sgp4_gcrs([orbit.elements.satrec()], [later])
    return state_error(truth, norad, epoch, r, v, later, rp[0, 0])


def pure_objects(tracklets: list[SimulatedTracklet], linker: Linker) -> dict[str, int | None]:
    """The objects holding one truth object's tracklets (or false tracklets only), each
    mapped to it."""
    truth_of = {s.tracklet.track_id: s.norad_id for s in tracklets}
    pure = {}
    for obj in linker.objects:
        owners = {truth_of[t] for t in obj.track_ids}
        if len(owners) == 1:
            pure[obj.uct_id] = next(iter(owners))
    return pure


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


def link_figures(
    tracklets: list[SimulatedTracklet],
    groups: list[list[str]],
    classes: dict[int, str],
    formation: dict[int, int] | None = None,
) -> dict:
    """Completeness and purity of a linker's objects, each given as its tracklets' ids; false
    links between members of one ``formation`` are counted apart too."""
    formation = formation or {}
    truth_of = {s.tracklet.track_id: s.norad_id for s in tracklets}
    seen = Counter(s.norad_id for s in tracklets if s.norad_id is not None)
    findable = {n for n, k in seen.items() if k >= 2}
    # Links: each tracklet after an object's first joined it.
    links = wrong = false_joined = within_formation = 0
    by_norad: dict[int, list] = defaultdict(list)
    for track_ids in groups:
        owners = [truth_of[t] for t in track_ids]
        majority = Counter(owners).most_common(1)[0][0]
        for norad in owners[1:]:
            links += 1
            if norad != majority:
                wrong += 1
                if norad in formation and formation[norad] == formation.get(majority):
                    within_formation += 1
            if norad is None:
                false_joined += 1
        for norad in set(owners):
            by_norad[norad].append(owners)
    complete = {
        n
        for n in findable
        if len(by_norad[n]) == 1 and set(by_norad[n][0]) == {n} and len(by_norad[n][0]) == seen[n]
    }
    per_class = defaultdict(lambda: [0, 0])
    for n in findable:
        per_class[classes[n]][0] += 1
        per_class[classes[n]][1] += n in complete
    return dict(
        tracklets=len(tracklets),
        false_tracklets=sum(1 for s in tracklets if s.norad_id is None),
        objects=len(groups),
        findable=len(findable),
        complete=len(complete),
        links=links,
        wrong=wrong,
        false_joined=false_joined,
        within_formation=within_formation,
        formation_members=len(set(formation) & set(seen)),
        per_class=dict(per_class),
        merged=sum(1 for ids in groups if len({truth_of[t] for t in ids}) > 1),
    )


def print_link_figures(figures: dict) -> None:
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
    if figures["formation_members"]:
        print(
            f"  of the false links, {figures['within_formation']} join two of the "
            f"{figures['formation_members']} objects flying in formation (within "
            f"{FORMATION_KM:g} km of each other throughout)"
        )
    print(
        "by class (complete / findable): "
        + ", ".join(f"{k} {v[1]}/{v[0]}" for k, v in sorted(figures["per_class"].items()))
    )


def _median(values) -> float:
    values = [v for v in values if np.isfinite(v)]
    return float(np.median(values)) if values else float("nan")


def _fmt(value: float, digits: int = 3) -> str:
    if not np.isfinite(value):
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:,.0f}"


def our_orbit_errors(run: Run, truth_of_object: dict[str, int], classes: dict[int, str]):
    """Our linker's orbit errors by (class, tracklets linked), at each object's revisions."""
    rows: dict[tuple[str, int], list[OrbitError]] = defaultdict(list)
    for uct_id, history in run.errors.items():
        norad = truth_of_object.get(uct_id)
        if norad is None:
            continue
        for count, error in history:
            if count <= 3:
                rows[(classes[norad], count)].append(error)
    return rows


def print_orbit_errors(rows: dict[tuple[str, int], list[OrbitError]]) -> None:
    print(
        "| class | tracklets | orbits | median abs da km | median abs di deg "
        "| median 24 h position km |"
    )
    print("|---|---|---|---|---|---|")
    for name in CLASS_COUNTS:
        if not any(rows.get((name, count)) for count in (1, 2, 3)):
            continue
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


def peer_orbit_errors(truth: Catalogue, tracklets: list[SimulatedTracklet], classes):
    """SSAPy's fit of each withheld object's first 1, 2 and 3 tracklets (the right ones: its
    fit is judged apart from its linking), its errors against the truth as ours are."""
    rows: dict[tuple[str, int], list[OrbitError]] = defaultdict(list)
    seconds = []
    for norad in sorted({s.norad_id for s in tracklets} - {None}):
        own = [s for s in tracklets if s.norad_id == norad]
        own.sort(key=lambda s: s.tracklet.last_time_unix_s)
        for count, (epoch, r, v, took) in ssapy_peer.fitted_states(own).items():
            seconds.append(took)
            later = own[count - 1].tracklet.last_time_unix_s + 86400.0
            predicted = ssapy_peer.propagate_km(epoch, r, v, later)
            rows[(classes[norad], count)].append(
                state_error(truth, norad, epoch, r, v, later, predicted)
            )
    return rows, seconds


def fits_ssapy_model(simulated: SimulatedTracklet, classes: dict[int, str]) -> bool:
    """Where SSAPy's tracklet model applies: a ground site's tracklet of a GEO object (or of
    nothing). Its summary of a tracklet (mean position, linear rate, the sensor's mean
    position) is off by tens to thousands of sigmas at the truth for curved arcs (low orbits,
    a camera in low orbit), at this bench's 2-5" astrometry."""
    return not simulated.tracklet.sensor.is_space_based and (
        simulated.norad_id is None or classes[simulated.norad_id] == "geo"
    )


def print_peer(
    truth: Catalogue, tracklets: list[SimulatedTracklet], classes, formation, ours: Run
) -> None:
    """SSAPy's MHT linker and its orbit fit on the same tracklets, when it is installed: on all
    of them, and on those where its model applies, with our linker run on those too."""
    if not ssapy_peer.available():
        print("\nSSAPy is not installed (`make peers` installs it): no side by side")
        return
    print(
        f"\n## side by side: SSAPy {ssapy_peer.version()} on the same tracklets (its MHT "
        "linker, Keplerian propagation, its default priors)"
    )
    peer = ssapy_peer.link(tracklets, nsat=1000)
    print(f"\nSSAPy, all {len(tracklets)} tracklets:")
    print_link_figures(link_figures(tracklets, peer.groups, classes, formation))
    print(
        f"cost: {peer.seconds:.0f} s ({1e3 * peer.seconds / len(tracklets):.0f} ms a "
        f"tracklet; ours {sum(t for _, t in ours.attempts):.0f} s), {peer.hypotheses} "
        "hypotheses kept at the end"
    )
    subset = [s for s in tracklets if fits_ssapy_model(s, classes)]
    print(f"\nwhere SSAPy's tracklet model applies: GEO from the ground, {len(subset)} tracklets")
    peer = ssapy_peer.link(subset, nsat=1000)
    mine = run_linker(truth, subset, LinkerSettings())
    print("SSAPy:")
    print_link_figures(link_figures(subset, peer.groups, classes, formation))
    print(f"cost {peer.seconds:.0f} s")
    print("ours:")
    print_link_figures(
        link_figures(subset, [o.track_ids for o in mine.linker.objects], classes, formation)
    )
    print(f"cost {sum(t for _, t in mine.attempts):.0f} s")
    for title, chosen in (("all objects", tracklets), ("GEO from the ground", subset)):
        rows, seconds = peer_orbit_errors(truth, chosen, classes)
        print(f"\nSSAPy's orbit error, first 1, 2 and 3 tracklets of each object, {title}:\n")
        print_orbit_errors(rows)
        if seconds:
            median_ms = 1e3 * np.median(seconds)
            print(f"\none SSAPy fit: median {median_ms:.0f} ms ({len(seconds)} fits)")
    print("\nours on GEO from the ground, after 1, 2 and 3 tracklets linked:\n")
    print_orbit_errors(our_orbit_errors(mine, pure_objects(subset, mine.linker), classes))


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
    parser.add_argument(
        "--no-peers", action="store_true", help="leave out the side by side with SSAPy"
    )
    args = parser.parse_args([] if argv is None else argv)
    quick, seed = args.quick, args.seed
    started = time.perf_counter()
    truth = Catalogue.from_path(TRUTH_DIR)
    stale = Catalogue.from_path(STALE_DIR)
    counts = {k: max(1, v // 3) for k, v in CLASS_COUNTS.items()} if quick else CLASS_COUNTS
    nights = 2 if quick else NIGHTS
    chosen = withheld_objects(truth, stale, counts, seed, nights * 86400.0)
    rng = np.random.default_rng(seed)
    network = sensors(truth)
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
    formation = formations(truth, chosen, START, nights * 86400.0)
    if formation:
        names = [truth.names[int(i)] for i in truth.index_of(sorted(formation))]
        print(f"withheld objects flying in formation: {', '.join(names)}")
    print("tracklets built from truth detections grouped by pass, not by the pipeline\n")
    run = run_linker(truth, tracklets, LinkerSettings())
    objects = [o.track_ids for o in run.linker.objects]
    print_link_figures(link_figures(tracklets, objects, chosen, formation))
    truth_of_object = pure_objects(tracklets, run.linker)
    print("\norbit error against the truth after 1, 2 and 3 tracklets:\n")
    print_orbit_errors(our_orbit_errors(run, truth_of_object, chosen))

    identified = run.linker.identify(stale)
    right = sum(1 for o in identified if truth_of_object.get(o.uct_id) == o.norad_id)
    print(
        f"\nidentified against the stale catalogue ({len(stale)} sets): {len(identified)} "
        f"objects, {right} with the right NORAD id, {len(identified) - right} wrong"
    )
    print()
    print_costs(run, frames_per_s=10.0)
    if not args.no_peers:
        print_peer(truth, tracklets, chosen, formation, run)
    print(f"\n(took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])

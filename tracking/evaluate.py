"""Score a tracking run against a simulated scenario's truth.

The simulator (:mod:`.simulate`) writes ``truth.json`` (each detection's NORAD id, or null for
a false alarm) and ``scenario.json`` (withheld objects and, per frame, the noise-free positions
of the detectable objects in view). A run of the engine writes ``tracks.jsonl``
(:class:`~.models.TrackUpdate`, one per track per frame) and ``associations.jsonl``
(:class:`~.models.Association`). :func:`read_run` reads both sides into a
:class:`ScenarioRun`, and :func:`score` computes from it:

* track quality: each track's *truth object* is the majority label of the detections it took;
  purity is that majority's share, completeness the share of the object's detections (by the
  same sensor) that the track holds; a confirmed track whose majority is clutter is a false
  track;
* correlation: precision and recall of the named associations (the final verdict of each
  track, and per record), and precision/recall of the uncorrelated-track (UCT) verdicts for the
  objects withheld from the engine's catalogue;
* GOSPA per frame (p = 2, alpha = 2, cut-off ``c`` in arc-seconds) between the confirmed tracks'
  positions and the true positions of the detectable objects in view, with its localisation,
  missed and false parts;
* identification (:class:`Identification`, overall, per sensor and per orbit class): how
  many claims (final verdicts naming an object) are ambiguous and, when they are, whether the
  truth is the chosen object or the runner-up; whether catalogued objects are named right and
  unambiguously; whether withheld objects come out as UCTs and every object seen three times
  by a sensor ends up in a scored track; how often verdicts flip; which tracks swap objects.

All figures land in an :class:`EvaluationReport`; ``to_table()`` prints them, and
:func:`~.plots.plot_evaluation` draws, per sensor, the detections and the tracks coloured by
verdict, and GOSPA over time. :func:`evaluate` does all three from the files. The formulas are
in ``docs/evaluation.md``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from itertools import groupby
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment

from .constants import ARCSEC_PER_DEG
from .formats import iter_frames_jsonl, read_records
from .models import Association, Frame, TrackUpdate
from .plots import plot_evaluation
from .sky import angular_separation_deg
from .times import unix_from_datetime
from .verdicts import final_verdicts

__all__ = [
    "EvaluationReport",
    "GospaResult",
    "Identification",
    "ScenarioRun",
    "TrackScore",
    "count_swaps",
    "count_verdict_flips",
    "evaluate",
    "gospa_radec",
    "orbit_class",
    "read_run",
    "score",
]

#: Cut-off distance of GOSPA, arc-seconds: an estimate farther than this from every truth
#: counts as one false plus one missed object rather than a (bad) localisation.
DEFAULT_GOSPA_C_ARCSEC = 60.0
#: Statuses of a confirmed track: "coasting" is a confirmed track that missed this frame,
#: and its predicted position is its estimate (tentative and deleted records are not).
ESTABLISHED = frozenset({"confirmed", "coasting"})
#: An object needs this many detections by one sensor before a tracker can be blamed for
#: missing it (the denominator of the "detected" recalls).
MIN_DETECTIONS = 3
#: A track has swapped objects when its detections, false alarms skipped, show one object for
#: at least this many in a row and then another for as many: shorter runs are stray takes.
SWAP_MIN_RUN = 3


# --------------------------------------------------------------------------------------------
# GOSPA


@dataclass(frozen=True)
class GospaResult:
    """GOSPA between two point sets at one time (p-th power parts add up to ``distance**p``).

    ``localisation`` is the sum of ``d**p`` over assigned pairs, ``missed`` and ``false`` are
    ``c**p / 2`` times the number of unassigned truths and estimates; units arcsec**p.
    """

    distance_arcsec: float
    localisation: float
    missed: float
    false: float
    n_assigned: int
    n_missed: int
    n_false: int


def gospa_radec(
    truth_ra_deg: ArrayLike,
    truth_dec_deg: ArrayLike,
    est_ra_deg: ArrayLike,
    est_dec_deg: ArrayLike,
    *,
    c_arcsec: float = DEFAULT_GOSPA_C_ARCSEC,
    p: float = 2.0,
) -> GospaResult:
    """Generalised OSPA (Rahmathullah, Garcia-Fernandez & Svensson 2017) with alpha = 2.

    ``d(X, Y) = [min over assignments  sum d(x, y)^p  +  c^p / 2 (|X| + |Y| - 2 |assigned|)]^(1/p)``
    with the base distance the great-circle separation in arc-seconds. A pair farther apart
    than ``c`` is never worth assigning (it would cost more than leaving both unassigned), so
    the assignment is solved on ``min(d, c)^p`` and pairs at ``c`` or beyond are then counted as
    one missed and one false.
    """
    if c_arcsec <= 0 or p < 1:
        raise ValueError(f"gospa needs c_arcsec > 0 and p >= 1, got c={c_arcsec}, p={p}")
    t_ra, t_dec = (
        np.atleast_1d(np.asarray(truth_ra_deg, float)),
        np.atleast_1d(np.asarray(truth_dec_deg, float)),
    )
    e_ra, e_dec = (
        np.atleast_1d(np.asarray(est_ra_deg, float)),
        np.atleast_1d(np.asarray(est_dec_deg, float)),
    )
    n_truth, n_est = t_ra.size, e_ra.size
    half_cp = c_arcsec**p / 2.0
    n_assigned, localisation = 0, 0.0
    if n_truth and n_est:
        d_arcsec = (
            angular_separation_deg(t_ra[:, None], t_dec[:, None], e_ra[None, :], e_dec[None, :])
            * ARCSEC_PER_DEG
        )
        cost = np.minimum(d_arcsec, c_arcsec) ** p
        rows, cols = linear_sum_assignment(cost)
        inside = d_arcsec[rows, cols] < c_arcsec
        n_assigned = int(np.count_nonzero(inside))
        localisation = float(np.sum(d_arcsec[rows, cols][inside] ** p))
    n_missed, n_false = n_truth - n_assigned, n_est - n_assigned
    missed, false = half_cp * n_missed, half_cp * n_false
    distance = (localisation + missed + false) ** (1.0 / p)
    return GospaResult(float(distance), localisation, missed, false, n_assigned, n_missed, n_false)


# --------------------------------------------------------------------------------------------
# Reading


def _read_truth(path: Path) -> dict[str, int | None]:
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON: {error}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: truth must be a JSON object mapping det_id to NORAD id")
    truth: dict[str, int | None] = {}
    for det_id, norad in raw.items():
        if norad is not None and (not isinstance(norad, int) or isinstance(norad, bool)):
            raise ValueError(
                f"{path}: truth[{det_id!r}] must be an integer NORAD id or null, got {norad!r}"
            )
        truth[det_id] = norad
    return truth


@dataclass(frozen=True)
class ScenarioRun:
    """A simulated scenario's truth and one engine run's records on it: what :func:`score`
    scores.

    ``truth`` maps each det_id to a NORAD id (None: a false alarm) and holds every det_id the
    run's track records name; ``scenario`` is the parsed ``scenario.json`` (its
    ``withheld_norad_ids`` and ``frames`` are read); ``updates`` and ``associations`` are the
    run's records in time order; ``frames`` the scenario's frames, for the plot's detections
    (None: not read).
    """

    truth: dict[str, int | None]
    scenario: dict
    updates: list[TrackUpdate]
    associations: list[Association]
    frames: list[Frame] | None = None

    def established(self) -> list[TrackUpdate]:
        """The records of confirmed tracks (status confirmed or coasting): their positions are
        the run's estimates."""
        return [update for update in self.updates if update.status in ESTABLISHED]


def read_run(
    truth_path: str | Path, results_dir: str | Path, *, frames: bool = True
) -> ScenarioRun:
    """Read a scenario's truth and the records an engine run wrote on it.

    ``truth_path`` is the scenario's ``truth.json``; ``scenario.json`` must be beside it, and
    ``frames.jsonl`` is read too if it is there and ``frames`` is true. ``results_dir`` holds
    ``tracks.jsonl`` and ``associations.jsonl``. Raises ``FileNotFoundError`` for a missing
    file and ``ValueError`` naming the file for one that cannot be read, or for a track record
    holding a detection the truth does not know.
    """
    truth_path, results = Path(truth_path), Path(results_dir)
    scenario_path = truth_path.with_name("scenario.json")
    if not scenario_path.is_file():
        raise FileNotFoundError(f"{scenario_path}: scenario.json must be beside {truth_path.name}")
    truth = _read_truth(truth_path)
    scenario = json.loads(scenario_path.read_text())
    for name in ("tracks.jsonl", "associations.jsonl"):
        if not (results / name).is_file():
            raise FileNotFoundError(f"{results / name}: missing (run the engine first)")
    updates = read_records(results / "tracks.jsonl", TrackUpdate)
    associations = read_records(results / "associations.jsonl", Association)
    for update in updates:
        if update.det_id is not None and update.det_id not in truth:
            raise ValueError(
                f"tracks.jsonl: det_id {update.det_id!r} of track "
                f"{update.track_id!r} is not in {truth_path}"
            )
    frames_path = truth_path.with_name("frames.jsonl")
    return ScenarioRun(
        truth=truth,
        scenario=scenario,
        updates=updates,
        associations=associations,
        frames=list(iter_frames_jsonl(frames_path)) if frames and frames_path.is_file() else None,
    )


# --------------------------------------------------------------------------------------------
# Report


@dataclass(frozen=True)
class TrackScore:
    """How one track did: its truth object, purity, completeness and final verdict."""

    track_id: str
    sensor_id: str
    confirmed: bool
    n_detections: int
    truth_norad_id: int | None  # majority label; None: mostly false alarms
    purity: float
    completeness: float
    verdict_norad_id: int | None  # final association (None: UCT or never associated)
    verdict_uct: bool | None  # None: never associated
    outcome: str  # correct / wrong / uct_correct / uct_missed / false / none
    ambiguous: bool = False  # the final verdict was flagged ambiguous by the correlator
    runner_up_norad_id: int | None = None  # the final verdict's runner-up
    n_flips: int = 0  # times the verdict changed (object named, or UCT) along the track
    n_swaps: int = 0  # times the object followed changed for a sustained run (count_swaps)


def _share(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


@dataclass(frozen=True)
class Identification:
    """The counts behind the identification figures, and the figures (properties).

    A *claim* is a track whose final verdict names an object; a *scored track* one with any
    final verdict (a name or UCT); a *sighting* an object seen by one sensor at least
    ``MIN_DETECTIONS`` times (tracks are per sensor: what one sensor saw is what its tracker
    can be blamed for). Counts of several runs add up (``a + b``; ``max_flips`` takes the
    larger), so pooled figures are ratios of summed counts.
    """

    claims: int = 0
    claims_unambiguous: int = 0
    claims_unambiguous_right: int = 0
    ambiguous: int = 0  # claims flagged ambiguous
    ambiguous_truth_chosen: int = 0
    ambiguous_truth_runner_up: int = 0
    catalogued_tracks: int = 0  # tracks whose truth object is in the engine's catalogue
    catalogued_scored: int = 0  # ... with a final verdict
    catalogued_named_right: int = 0  # ... naming it, not flagged ambiguous
    # The same for the catalogued objects whose element set is within its fitted error of the
    # truth (snapshot staleness; all of them otherwise): the ones a name can be earned for.
    within_error_scored: int = 0
    within_error_named_right: int = 0
    sightings: int = 0
    sightings_scored: int = 0  # ... in a scored track of that sensor
    withheld_sightings: int = 0  # sightings of withheld objects
    withheld_uct: int = 0  # ... in a track of that sensor whose final verdict is UCT
    scored_tracks: int = 0
    flipping_tracks: int = 0  # scored tracks whose verdict changed at least once
    flips: int = 0
    max_flips: int = 0
    swapped_tracks: int = 0  # tracks that swapped objects at least once
    swaps: int = 0

    def __add__(self, other: Identification) -> Identification:
        counts = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        counts["max_flips"] = max(self.max_flips, other.max_flips)
        return Identification(**counts)

    @property
    def unambiguous_precision(self) -> float:
        """Unambiguous claims naming the truth object / unambiguous claims."""
        return _share(self.claims_unambiguous_right, self.claims_unambiguous)

    @property
    def ambiguous_share(self) -> float:
        """Ambiguous claims / claims."""
        return _share(self.ambiguous, self.claims)

    @property
    def ambiguous_top_two(self) -> float:
        """Ambiguous claims whose chosen object or runner-up is the truth / ambiguous claims."""
        return _share(self.ambiguous_truth_chosen + self.ambiguous_truth_runner_up, self.ambiguous)

    @property
    def named_right_of_scored(self) -> float:
        """Catalogued objects' scored tracks named right, unambiguously / such scored tracks."""
        return _share(self.catalogued_named_right, self.catalogued_scored)

    @property
    def named_right_within_error(self) -> float:
        """Like :attr:`named_right_of_scored`, over the objects whose element set is within
        ``FAR_OFF_SIGMA`` of the truth (a far-off set is rightly left a UCT)."""
        return _share(self.within_error_named_right, self.within_error_scored)

    @property
    def named_right_of_tracks(self) -> float:
        """Catalogued objects' tracks named right, unambiguously / all their tracks."""
        return _share(self.catalogued_named_right, self.catalogued_tracks)

    @property
    def uct_recall(self) -> float:
        """Sightings of withheld objects out as a UCT / sightings of withheld objects."""
        return _share(self.withheld_uct, self.withheld_sightings)

    @property
    def scored_coverage(self) -> float:
        """Sightings in a scored track / sightings."""
        return _share(self.sightings_scored, self.sightings)

    @property
    def flips_per_track(self) -> float:
        """Verdict changes per scored track, on average."""
        return _share(self.flips, self.scored_tracks)

    @property
    def flipping_share(self) -> float:
        """Scored tracks whose verdict changed / scored tracks."""
        return _share(self.flipping_tracks, self.scored_tracks)

    FIGURES = (
        "unambiguous_precision",
        "ambiguous_share",
        "ambiguous_top_two",
        "named_right_of_scored",
        "named_right_within_error",
        "named_right_of_tracks",
        "uct_recall",
        "scored_coverage",
        "flips_per_track",
        "flipping_share",
    )

    def to_dict(self) -> dict:
        """The counts and the figures (NaN as None)."""
        figures = {name: getattr(self, name) for name in self.FIGURES}
        return {
            **asdict(self),
            **{k: (v if np.isfinite(v) else None) for k, v in figures.items()},
        }


def orbit_class(task: str) -> str:
    """``"GEO"`` or ``"LEO"``: the orbits a simulated sensor's task looks at."""
    return "GEO" if task.startswith("geo") else "LEO"


def count_verdict_flips(associations: list[Association]) -> int:
    """How many times the verdict changes along one track's association records (in time
    order): the object named, or UCT. A change of confidence or ambiguity is no flip."""
    verdicts = [(a.uct, a.norad_id) for a in associations]
    return sum(a != b for a, b in zip(verdicts, verdicts[1:]))


def count_swaps(labels: list[int | None], min_run: int = SWAP_MIN_RUN) -> int:
    """How many times a track's detections (their truth labels in time order; None, a false
    alarm, is skipped) go from a run of one object to a run of another, both at least
    ``min_run`` long: the track swapped from following one object to following another."""
    runs = [(label, len(list(run))) for label, run in groupby(n for n in labels if n is not None)]
    sustained = [label for label, length in runs if length >= min_run]
    return sum(a != b for a, b in zip(sustained, sustained[1:]))


@dataclass
class EvaluationReport:
    """Every figure of one evaluation; ``to_table()`` prints, ``to_dict()`` serialises."""

    n_frames: int = 0
    n_detections: int = 0
    n_false_alarms: int = 0
    n_objects_detected: int = 0  # distinct objects with >= MIN_DETECTIONS detections
    n_withheld: int = 0
    n_tracks: int = 0
    n_confirmed: int = 0
    mean_purity: float = float("nan")  # over confirmed tracks of a real object
    mean_completeness: float = float("nan")
    tracks_per_object: float = float("nan")  # confirmed object tracks / objects they cover
    false_track_rate: float = float("nan")  # confirmed tracks mostly clutter / confirmed
    correlation_precision: float = float("nan")  # final verdicts naming an object
    correlation_precision_unambiguous: float = float("nan")  # those not flagged ambiguous
    n_ambiguous: int = 0  # final named verdicts flagged ambiguous
    correlation_precision_records: float = float("nan")  # every association record
    correlation_recall_tracked: float = float("nan")  # / catalogued objects with a track
    correlation_recall_detected: float = float("nan")  # / catalogued objects detected >= 3
    uct_recall_tracked: float = float("nan")  # / withheld objects with a track
    uct_recall_detected: float = float("nan")  # / withheld objects detected >= 3
    uct_precision: float = float("nan")  # UCT verdicts on withheld objects
    verdict_accuracy_records: float = float("nan")  # association records right
    gospa_c_arcsec: float = DEFAULT_GOSPA_C_ARCSEC
    gospa_mean_arcsec: float = float("nan")
    gospa_mean_sq_localisation: float = float("nan")  # arcsec^2, the three add up to
    gospa_mean_sq_missed: float = float("nan")  # the mean of GOSPA^2
    gospa_mean_sq_false: float = float("nan")
    gospa_rms_localisation_arcsec: float = float("nan")
    gospa_mean_missed: float = float("nan")  # objects per frame
    gospa_mean_false: float = float("nan")  # tracks per frame
    gospa_by_sensor: dict[str, float] = field(default_factory=dict)
    identification: Identification = field(default_factory=Identification)
    identification_by_sensor: dict[str, Identification] = field(default_factory=dict)
    identification_by_class: dict[str, Identification] = field(default_factory=dict)  # GEO/LEO
    tracks: list[TrackScore] = field(default_factory=list)
    gospa_series: list[dict] = field(default_factory=list)  # per frame: sensor, time, parts

    def to_dict(self) -> dict:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, float) and not np.isfinite(value):
                data[key] = None  # JSON has no NaN
        data["identification"] = self.identification.to_dict()
        for name in ("identification_by_sensor", "identification_by_class"):
            data[name] = {k: v.to_dict() for k, v in getattr(self, name).items()}
        return data

    def to_table(self) -> str:
        """A fixed-width summary a person can read in a terminal."""

        def pct(value: float) -> str:
            return "    n/a" if not np.isfinite(value) else f"{100.0 * value:6.1f}%"

        def num(value: float, unit: str = "") -> str:
            return "    n/a" if not np.isfinite(value) else f"{value:7.2f}{unit}"

        rows = [
            ("frames", f"{self.n_frames:7d}"),
            ("detections (false alarms)", f"{self.n_detections:7d} ({self.n_false_alarms})"),
            (
                f"objects detected >= {MIN_DETECTIONS}x (withheld)",
                f"{self.n_objects_detected:7d} ({self.n_withheld})",
            ),
            ("tracks (confirmed)", f"{self.n_tracks:7d} ({self.n_confirmed})"),
            ("track purity, mean", pct(self.mean_purity)),
            ("track completeness, mean", pct(self.mean_completeness)),
            ("confirmed tracks per object", num(self.tracks_per_object)),
            ("false-track rate", pct(self.false_track_rate)),
            ("correlation precision (final)", pct(self.correlation_precision)),
            (
                f"  unambiguous ({self.n_ambiguous} ambiguous left out)",
                pct(self.correlation_precision_unambiguous),
            ),
            ("correlation precision (records)", pct(self.correlation_precision_records)),
            ("correlation recall (tracked)", pct(self.correlation_recall_tracked)),
            ("correlation recall (detected)", pct(self.correlation_recall_detected)),
            ("UCT recall (tracked)", pct(self.uct_recall_tracked)),
            ("UCT recall (detected)", pct(self.uct_recall_detected)),
            ("UCT precision", pct(self.uct_precision)),
            ("verdict accuracy (records)", pct(self.verdict_accuracy_records)),
            (f'GOSPA mean, c={self.gospa_c_arcsec:g}"', num(self.gospa_mean_arcsec, '"')),
            ("  mean GOSPA^2: localisation", num(self.gospa_mean_sq_localisation, ' "^2')),
            ("  mean GOSPA^2: missed", num(self.gospa_mean_sq_missed, ' "^2')),
            ("  mean GOSPA^2: false", num(self.gospa_mean_sq_false, ' "^2')),
            ("  RMS localisation error", num(self.gospa_rms_localisation_arcsec, '"')),
            ("  missed objects per frame", num(self.gospa_mean_missed)),
            ("  false tracks per frame", num(self.gospa_mean_false)),
        ]
        rows += [
            (f"  GOSPA mean, {sensor}", num(value, '"'))
            for sensor, value in sorted(self.gospa_by_sensor.items())
        ]
        rows += _identification_rows("", self.identification, pct, num)
        for name, counts in sorted(self.identification_by_class.items()):
            rows += _identification_rows(f"{name}: ", counts, pct, num)
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _identification_rows(
    prefix: str, c: Identification, pct: Callable[[float], str], num: Callable[[float], str]
) -> list[tuple[str, str]]:
    """The table rows of the identification figures, each name after ``prefix``."""
    head = f"{prefix}identification" if prefix else "identification"
    return [
        (head, f"{c.claims:7d} claims, {c.scored_tracks} scored tracks, {c.sightings} sightings"),
        ("  precision of unambiguous claims", pct(c.unambiguous_precision)),
        (f"  ambiguous claims ({c.ambiguous})", pct(c.ambiguous_share)),
        (
            "  ambiguous: truth chosen / runner-up",
            f"{c.ambiguous_truth_chosen:7d} / {c.ambiguous_truth_runner_up}",
        ),
        ("  ambiguous: truth in the top two", pct(c.ambiguous_top_two)),
        ("  catalogued named right (of scored)", pct(c.named_right_of_scored)),
        ("  ... of sets within their error", pct(c.named_right_within_error)),
        ("  catalogued named right (of tracks)", pct(c.named_right_of_tracks)),
        (f"  withheld out as UCTs (of {c.withheld_sightings})", pct(c.uct_recall)),
        (f"  seen >= {MIN_DETECTIONS}x in a scored track", pct(c.scored_coverage)),
        ("  verdict flips per track", num(c.flips_per_track)),
        (f"  tracks that flip (max {c.max_flips})", pct(c.flipping_share)),
        ("  tracks that swap objects", f"{c.swapped_tracks:7d}"),
    ]


# --------------------------------------------------------------------------------------------
# Evaluation


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


def _majority(labels: list[int | None]) -> tuple[int | None, int]:
    """The most common label and its count; ties go to a real object, then the lowest id."""
    counts = Counter(labels)
    label, count = min(counts.items(), key=lambda item: (-item[1], item[0] is None, item[0] or 0))
    return label, count


def score(run: ScenarioRun, *, gospa_c_arcsec: float = DEFAULT_GOSPA_C_ARCSEC) -> EvaluationReport:
    """The figures of the module docstring for ``run``, GOSPA with cut-off ``gospa_c_arcsec``
    (arc-seconds). Reads no file and changes nothing: the same run gives the same report."""
    truth, scenario = run.truth, run.scenario
    updates, associations = run.updates, run.associations
    withheld = {int(n) for n in scenario["withheld_norad_ids"]}
    frame_sensor = {f["frame_id"]: f["sensor_id"] for f in scenario["frames"]}
    report = EvaluationReport(
        n_frames=len(scenario["frames"]),
        n_detections=len(truth),
        n_withheld=len(withheld),
        gospa_c_arcsec=gospa_c_arcsec,
    )

    # Detections of each (sensor, object): completeness is per sensor, as tracks are.
    per_sensor_object: Counter[tuple[str, int]] = Counter()
    per_object: Counter[int] = Counter()
    for det_id, norad in truth.items():
        if norad is None:
            report.n_false_alarms += 1
            continue
        frame_id = det_id.rsplit(":", 1)[0]
        per_sensor_object[(frame_sensor.get(frame_id, ""), norad)] += 1
        per_object[norad] += 1
    detected = {n for n, count in per_object.items() if count >= MIN_DETECTIONS}
    report.n_objects_detected = len(detected)

    # Gather each track's detections, status and final verdict.
    track_dets: dict[str, list[str]] = defaultdict(list)
    track_sensor: dict[str, str] = {}
    confirmed: set[str] = set()
    for update in updates:
        track_sensor.setdefault(update.track_id, update.sensor_id)
        if update.status in ESTABLISHED:
            confirmed.add(update.track_id)
        if update.det_id is not None:
            track_dets[update.track_id].append(update.det_id)
    final = final_verdicts(associations)
    track_associations: dict[str, list[Association]] = defaultdict(list)
    for association in associations:
        track_associations[association.track_id].append(association)

    scores: list[TrackScore] = []
    for track_id in sorted(track_sensor):
        dets = list(dict.fromkeys(track_dets.get(track_id, [])))
        labels = [truth[d] for d in dets]
        truth_id, count = _majority(labels) if labels else (None, 0)
        sensor_id = track_sensor[track_id]
        purity = _ratio(count, len(labels))
        completeness = (
            _ratio(count, per_sensor_object[(sensor_id, truth_id)])
            if truth_id is not None
            else float("nan")
        )
        verdict = final.get(track_id)
        verdict_id = verdict.norad_id if verdict else None
        verdict_uct = verdict.uct if verdict else None
        if truth_id is None:
            outcome = "false"
        elif verdict is None:
            outcome = "none"
        elif verdict.uct:
            outcome = "uct_correct" if truth_id in withheld else "uct_missed"
        else:
            outcome = "correct" if verdict_id == truth_id else "wrong"
        scores.append(
            TrackScore(
                track_id,
                sensor_id,
                track_id in confirmed,
                len(dets),
                truth_id,
                purity,
                completeness,
                verdict_id,
                verdict_uct,
                outcome,
                bool(verdict and verdict.ambiguous),
                verdict.runner_up_norad_id if verdict else None,
                count_verdict_flips(track_associations.get(track_id, [])),
                count_swaps(labels),
            )
        )
    report.tracks = scores
    report.n_tracks = len(scores)
    good = [s for s in scores if s.confirmed]
    report.n_confirmed = len(good)
    real = [s for s in good if s.truth_norad_id is not None]
    if real:
        report.mean_purity = float(np.mean([s.purity for s in real]))
        report.mean_completeness = float(np.mean([s.completeness for s in real]))
        report.tracks_per_object = len(real) / len({s.truth_norad_id for s in real})
    report.false_track_rate = _ratio(len(good) - len(real), len(good))

    # Correlation: named verdicts, then recall per object.
    named = [s for s in good if s.verdict_uct is False]
    report.correlation_precision = _ratio(sum(s.outcome == "correct" for s in named), len(named))
    # Co-located objects (a servicing vehicle docked to its client, a GEO cluster) cannot be
    # told apart by position: a verdict the correlator itself flags ambiguous is reported
    # separately rather than mixed into what the confident verdicts achieve.
    clear = [s for s in named if not s.ambiguous]
    report.n_ambiguous = len(named) - len(clear)
    report.correlation_precision_unambiguous = _ratio(
        sum(s.outcome == "correct" for s in clear), len(clear)
    )
    truth_of = {s.track_id: s.truth_norad_id for s in scores}
    named_records = [a for a in associations if a.norad_id is not None]
    report.correlation_precision_records = _ratio(
        sum(a.norad_id == truth_of.get(a.track_id) for a in named_records), len(named_records)
    )
    right_records = sum(
        (a.norad_id is not None and a.norad_id == truth_of.get(a.track_id))
        or (a.uct and truth_of.get(a.track_id) in withheld)
        for a in associations
    )
    report.verdict_accuracy_records = _ratio(right_records, len(associations))

    tracked_catalogued = {s.truth_norad_id for s in real if s.truth_norad_id not in withheld}
    correct_objects = {s.truth_norad_id for s in real if s.outcome == "correct"}
    report.correlation_recall_tracked = _ratio(len(correct_objects), len(tracked_catalogued))
    report.correlation_recall_detected = _ratio(
        len(correct_objects & detected), len(detected - withheld)
    )
    tracked_withheld = {s.truth_norad_id for s in real if s.truth_norad_id in withheld}
    uct_objects = {s.truth_norad_id for s in real if s.outcome == "uct_correct"}
    report.uct_recall_tracked = _ratio(len(uct_objects), len(tracked_withheld))
    report.uct_recall_detected = _ratio(len(uct_objects & detected), len(withheld & detected))
    uct_verdicts = [s for s in good if s.verdict_uct]
    report.uct_precision = _ratio(
        sum(s.outcome == "uct_correct" for s in uct_verdicts), len(uct_verdicts)
    )

    sightings = {key for key, count in per_sensor_object.items() if count >= MIN_DETECTIONS}
    far = frozenset(int(n) for n in scenario.get("far_off_norad_ids", ()))
    report.identification = _identification(scores, sightings, withheld, far)
    for sensor_id in sorted({s.sensor_id for s in scores} | {sid for sid, _ in sightings}):
        report.identification_by_sensor[sensor_id] = _identification(
            [s for s in scores if s.sensor_id == sensor_id],
            {key for key in sightings if key[0] == sensor_id},
            withheld,
            far,
        )
    tasks = {p["sensor_id"]: p["task"] for p in scenario.get("settings", {}).get("sensors", [])}
    for sensor_id, counts in report.identification_by_sensor.items():
        if sensor_id in tasks:
            name = orbit_class(tasks[sensor_id])
            report.identification_by_class[name] = (
                report.identification_by_class.get(name, Identification()) + counts
            )

    _score_gospa(report, run, gospa_c_arcsec)
    return report


def _identification(
    scores: list[TrackScore],
    sightings: set[tuple[str, int]],
    withheld: set[int],
    far_off: frozenset[int] = frozenset(),
) -> Identification:
    """The identification counts of some tracks and the sightings of the same sensors."""
    claims = [s for s in scores if s.verdict_uct is False]
    clear = [s for s in claims if not s.ambiguous]
    unsure = [s for s in claims if s.ambiguous]
    catalogued = [
        s for s in scores if s.truth_norad_id is not None and s.truth_norad_id not in withheld
    ]
    within = [s for s in catalogued if s.truth_norad_id not in far_off]
    scored = [s for s in scores if s.verdict_uct is not None]
    in_scored = {(s.sensor_id, s.truth_norad_id) for s in scored}
    as_uct = {(s.sensor_id, s.truth_norad_id) for s in scores if s.outcome == "uct_correct"}
    withheld_sightings = {key for key in sightings if key[1] in withheld}
    return Identification(
        claims=len(claims),
        claims_unambiguous=len(clear),
        claims_unambiguous_right=sum(s.outcome == "correct" for s in clear),
        ambiguous=len(unsure),
        ambiguous_truth_chosen=sum(s.outcome == "correct" for s in unsure),
        ambiguous_truth_runner_up=sum(
            s.truth_norad_id is not None and s.runner_up_norad_id == s.truth_norad_id
            for s in unsure
        ),
        catalogued_tracks=len(catalogued),
        catalogued_scored=sum(s.verdict_uct is not None for s in catalogued),
        catalogued_named_right=sum(s.outcome == "correct" and not s.ambiguous for s in catalogued),
        within_error_scored=sum(s.verdict_uct is not None for s in within),
        within_error_named_right=sum(s.outcome == "correct" and not s.ambiguous for s in within),
        sightings=len(sightings),
        sightings_scored=len(sightings & in_scored),
        withheld_sightings=len(withheld_sightings),
        withheld_uct=len(withheld_sightings & as_uct),
        scored_tracks=len(scored),
        flipping_tracks=sum(s.n_flips > 0 for s in scored),
        flips=sum(s.n_flips for s in scored),
        max_flips=max((s.n_flips for s in scored), default=0),
        swapped_tracks=sum(s.n_swaps > 0 for s in scores),
        swaps=sum(s.n_swaps for s in scores),
    )


def _time_key(sensor_id: str, time: object) -> tuple[str, int]:
    """Frames are matched by sensor and mid-exposure time (to the millisecond)."""
    return sensor_id, round(unix_from_datetime(time) * 1000.0)  # type: ignore[arg-type]


def _score_gospa(report: EvaluationReport, run: ScenarioRun, c_arcsec: float) -> None:
    """GOSPA of every frame between confirmed tracks and the detectable objects in view."""
    estimates: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
    for update in run.established():
        estimates[_time_key(update.sensor_id, update.time)].append((update.ra_deg, update.dec_deg))
    series, by_sensor = [], defaultdict(list)
    for frame in run.scenario["frames"]:
        objects = frame["objects"]
        est = np.array(
            estimates.get(_time_key(frame["sensor_id"], frame["time"]), []), dtype=float
        ).reshape(-1, 2)
        result = gospa_radec(
            [o["ra_deg"] for o in objects],
            [o["dec_deg"] for o in objects],
            est[:, 0],
            est[:, 1],
            c_arcsec=c_arcsec,
        )
        series.append(
            {
                "frame_id": frame["frame_id"],
                "sensor_id": frame["sensor_id"],
                "time": frame["time"],
                **asdict(result),
            }
        )
        by_sensor[frame["sensor_id"]].append(result.distance_arcsec)
    report.gospa_series = series
    if not series:
        return
    column = {
        key: np.array([s[key] for s in series], dtype=float)
        for key in (
            "distance_arcsec",
            "localisation",
            "missed",
            "false",
            "n_assigned",
            "n_missed",
            "n_false",
        )
    }
    report.gospa_mean_arcsec = float(column["distance_arcsec"].mean())
    report.gospa_mean_sq_localisation = float(column["localisation"].mean())
    report.gospa_mean_sq_missed = float(column["missed"].mean())
    report.gospa_mean_sq_false = float(column["false"].mean())
    n_assigned = column["n_assigned"].sum()
    if n_assigned:
        report.gospa_rms_localisation_arcsec = float(
            np.sqrt(column["localisation"].sum() / n_assigned)
        )
    report.gospa_mean_missed = float(column["n_missed"].mean())
    report.gospa_mean_false = float(column["n_false"].mean())
    report.gospa_by_sensor = {k: float(np.mean(v)) for k, v in sorted(by_sensor.items())}


# --------------------------------------------------------------------------------------------
# All three


def evaluate(
    truth_path: str | Path,
    results_dir: str | Path,
    *,
    plot_path: str | Path | None = None,
    plot: bool = True,
    gospa_c_arcsec: float = DEFAULT_GOSPA_C_ARCSEC,
) -> EvaluationReport:
    """Score ``results_dir/{tracks,associations}.jsonl`` against a simulated scenario:
    :func:`read_run`, :func:`score`, and :func:`~orbitlink.tracking.plots.plot_evaluation`.

    ``truth_path`` is the scenario's ``truth.json``; ``scenario.json`` must be beside it (and
    ``frames.jsonl``, used only for the plot, if present). The plot is written to
    ``plot_path``, by default ``results_dir/evaluation.png``; ``plot=False`` skips it.
    """
    run = read_run(truth_path, results_dir, frames=plot)
    report = score(run, gospa_c_arcsec=gospa_c_arcsec)
    if plot:
        path = plot_path if plot_path is not None else Path(results_dir) / "evaluation.png"
        plot_evaluation(report, run, path)
    return report

"""The evaluator on hand-built scenarios whose right answers are known."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from orbitlink.tracking.evaluate import (
    EvaluationReport,
    Identification,
    count_swaps,
    count_verdict_flips,
    evaluate,
    gospa_radec,
    read_run,
    score,
)
from orbitlink.tracking.formats import write_frames_jsonl, write_records
from orbitlink.tracking.models import (
    Association,
    Detection,
    FieldOfView,
    Frame,
    TrackUpdate,
)
from orbitlink.tracking.plots import plot_evaluation
from orbitlink.tracking.times import datetime_from_unix

T0 = 1_780_200_000.0  # 2026-05-31
ARCSEC = 1.0 / 3600.0
COV = [[1e-8 if i == j else 0.0 for j in range(4)] for i in range(4)]


def _frame_id(k: int) -> str:
    return f"s1-{k:05d}"


class Scene:
    """One sensor, ``n`` frames one second apart; objects move 10 arcsec/s in Dec.

    ``objects`` maps NORAD id to its Dec at t=0 (RA 100 deg); every object is detected in
    every frame at its true position (the evaluator only reads the labels). One false alarm
    per frame far away. ``withheld`` objects are missing from the engine's catalogue.
    """

    def __init__(
        self, root: Path, objects: dict[int, float], withheld: list[int], n: int = 4
    ) -> None:
        self.root, self.objects, self.n = root, objects, n
        self.scenario_dir = root / "scenario"
        self.results = root / "results"
        self.scenario_dir.mkdir(parents=True)
        self.results.mkdir()
        truth: dict[str, int | None] = {}
        frames_json, frames = [], []
        for k in range(n):
            detections = []
            for i, (norad, _) in enumerate(sorted(objects.items())):
                ra, dec = self.position(norad, k)
                detections.append(
                    Detection(
                        det_id=f"{_frame_id(k)}:{i}", ra_deg=ra, dec_deg=dec, sigma_arcsec=1.0
                    )
                )
                truth[f"{_frame_id(k)}:{i}"] = norad
            fa = f"{_frame_id(k)}:{len(objects)}"
            detections.append(Detection(det_id=fa, ra_deg=101.0, dec_deg=1.0))
            truth[fa] = None
            fov = FieldOfView(ra_deg=100.0, dec_deg=0.0, radius_deg=2.0)
            frames.append(
                Frame(
                    frame_id=_frame_id(k),
                    sensor_id="s1",
                    fov=fov,
                    time=datetime_from_unix(T0 + k),
                    detections=detections,
                )
            )
            frames_json.append(
                {
                    "frame_id": _frame_id(k),
                    "sensor_id": "s1",
                    "time": frames[-1].model_dump(mode="json")["time"],
                    "fov": fov.model_dump(),
                    "objects": [
                        {
                            "norad_id": norad,
                            "ra_deg": self.position(norad, k)[0],
                            "dec_deg": self.position(norad, k)[1],
                        }
                        for norad in sorted(objects)
                    ],
                }
            )
        (self.scenario_dir / "truth.json").write_text(json.dumps(truth))
        (self.scenario_dir / "scenario.json").write_text(
            json.dumps(
                {"seed": 0, "settings": {}, "withheld_norad_ids": withheld, "frames": frames_json}
            )
        )
        write_frames_jsonl(frames, self.scenario_dir / "frames.jsonl")
        self.det_index = {norad: i for i, norad in enumerate(sorted(objects))}

    def position(self, norad: int, k: int) -> tuple[float, float]:
        return 100.0, self.objects[norad] + 10.0 * ARCSEC * k

    def track(
        self,
        track_id: str,
        norad: int | None,
        *,
        offset_arcsec: float = 0.0,
        frames: range | None = None,
        status: str = "confirmed",
    ) -> list[TrackUpdate]:
        """Updates of a track holding ``norad``'s detections (None: the false alarms),
        reported ``offset_arcsec`` north of the truth."""
        records = []
        for k in frames if frames is not None else range(self.n):
            if norad is None:
                det, (ra, dec) = f"{_frame_id(k)}:{len(self.objects)}", (101.0, 1.0)
            else:
                det, (ra, dec) = f"{_frame_id(k)}:{self.det_index[norad]}", self.position(norad, k)
            records.append(
                TrackUpdate(
                    time=datetime_from_unix(T0 + k),
                    track_id=track_id,
                    sensor_id="s1",
                    frame_id=_frame_id(k),
                    status=status,
                    ra_deg=ra,
                    dec_deg=dec + offset_arcsec * ARCSEC,
                    ra_rate_deg_s=0.0,
                    dec_rate_deg_s=10.0 * ARCSEC,
                    covariance=COV,
                    n_updates=k + 1,
                    det_id=det,
                )
            )
        return records

    def verdicts(
        self,
        track_id: str,
        norads: list[int | None],
        *,
        ambiguous: bool = False,
        runner_up: int | None = None,
    ) -> list[Association]:
        """One association per frame: a NORAD id, or None for a UCT verdict."""
        return [
            Association(
                time=datetime_from_unix(T0 + k),
                track_id=track_id,
                sensor_id="s1",
                frame_id=_frame_id(k),
                norad_id=norad,
                uct=norad is None,
                confidence=0.5 if ambiguous else 0.9,
                ambiguous=ambiguous,
                runner_up_norad_id=runner_up,
            )
            for k, norad in enumerate(norads)
        ]

    def run(
        self,
        updates: list[TrackUpdate],
        associations: list[Association],
        *,
        plot: bool = False,
        **kwargs: object,
    ) -> EvaluationReport:
        updates = sorted(updates, key=lambda u: (u.time, u.track_id))
        associations = sorted(associations, key=lambda a: (a.time, a.track_id))
        write_records(updates, self.results / "tracks.jsonl")
        write_records(associations, self.results / "associations.jsonl")
        return evaluate(self.scenario_dir / "truth.json", self.results, plot=plot, **kwargs)


# ------------------------------------------------------------------------------------ GOSPA


def test_gospa_matches_a_hand_calculation_where_greedy_pairing_is_wrong():
    # Along Dec: truths at 0" and 4", estimates at 3" and 8". Pairing nearest-first would take
    # (4", 3") then (0", 8"): 1 + 64. The optimal pairing is (0", 3"), (4", 8"): 9 + 16 = 25.
    result = gospa_radec(
        [50.0, 50.0], [0.0, 4 * ARCSEC], [50.0, 50.0], [3 * ARCSEC, 8 * ARCSEC], c_arcsec=60.0
    )
    assert result.distance_arcsec == pytest.approx(5.0, rel=1e-6)
    assert result.localisation == pytest.approx(25.0, rel=1e-6)
    assert (result.n_assigned, result.n_missed, result.n_false) == (2, 0, 0)


def test_gospa_counts_far_pairs_as_missed_plus_false():
    # One estimate 3" from a truth, one 100" from the other (beyond c = 60"): that pair is
    # one missed and one false, c^2/2 each.
    result = gospa_radec(
        [10.0, 10.0],
        [20.0, 21.0],
        [10.0, 10.0],
        [20.0 + 3 * ARCSEC, 21.0 + 100 * ARCSEC],
        c_arcsec=60.0,
    )
    assert (result.n_assigned, result.n_missed, result.n_false) == (1, 1, 1)
    assert result.missed == pytest.approx(1800.0) and result.false == pytest.approx(1800.0)
    assert result.distance_arcsec == pytest.approx(math.sqrt(9.0 + 3600.0), rel=1e-6)


def test_gospa_of_empty_sets():
    assert gospa_radec([], [], [], []).distance_arcsec == 0.0
    result = gospa_radec([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [], [], c_arcsec=20.0)
    assert result.distance_arcsec == pytest.approx(math.sqrt(3 * 400.0 / 2))
    assert result.n_missed == 3 and result.n_false == 0


def test_gospa_rejects_bad_parameters():
    with pytest.raises(ValueError, match="c_arcsec"):
        gospa_radec([0.0], [0.0], [0.0], [0.0], c_arcsec=0.0)


# ------------------------------------------------------------------------ whole evaluation


def test_perfect_tracker_scores_one_and_gospa_is_localisation_only(tmp_path):
    scene = Scene(tmp_path, {100: 0.0, 200: 0.5}, withheld=[200])
    report = scene.run(
        scene.track("T1", 100, offset_arcsec=3.0) + scene.track("T2", 200, offset_arcsec=4.0),
        scene.verdicts("T1", [100] * 4) + scene.verdicts("T2", [None] * 4),
        plot=True,
    )
    assert (report.n_tracks, report.n_confirmed, report.n_withheld) == (2, 2, 1)
    assert report.n_false_alarms == 4 and report.n_detections == 12
    assert report.mean_purity == 1.0 and report.mean_completeness == 1.0
    assert report.false_track_rate == 0.0 and report.tracks_per_object == 1.0
    assert report.correlation_precision == 1.0
    assert report.correlation_precision_records == 1.0
    assert report.correlation_recall_tracked == 1.0
    assert report.correlation_recall_detected == 1.0
    assert report.uct_recall_tracked == 1.0 and report.uct_precision == 1.0
    assert report.verdict_accuracy_records == 1.0
    # Every frame: two tracks 3" and 4" off their objects: GOSPA = sqrt(9 + 16) = 5".
    assert report.gospa_mean_arcsec == pytest.approx(5.0, rel=1e-6)
    assert report.gospa_mean_sq_localisation == pytest.approx(25.0, rel=1e-6)
    assert report.gospa_mean_sq_missed == 0.0 and report.gospa_mean_sq_false == 0.0
    assert report.gospa_rms_localisation_arcsec == pytest.approx(math.sqrt(12.5), rel=1e-6)
    assert report.gospa_by_sensor == {"s1": pytest.approx(5.0, rel=1e-6)}
    assert {t.outcome for t in report.tracks} == {"correct", "uct_correct"}
    png = tmp_path / "results" / "evaluation.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_swapped_association_lowers_precision_by_its_share(tmp_path):
    scene = Scene(tmp_path, {100: 0.0, 300: 0.5}, withheld=[])
    # T3 follows object 300 but its last two verdicts name 100: of 8 named records 6 are
    # right, and of the two final verdicts one is.
    report = scene.run(
        scene.track("T1", 100) + scene.track("T3", 300),
        scene.verdicts("T1", [100] * 4) + scene.verdicts("T3", [300, 300, 100, 100]),
    )
    assert report.correlation_precision == pytest.approx(0.5)
    assert report.correlation_precision_records == pytest.approx(6 / 8)
    assert report.correlation_recall_tracked == pytest.approx(0.5)
    assert report.verdict_accuracy_records == pytest.approx(6 / 8)
    outcome = {t.track_id: t.outcome for t in report.tracks}
    assert outcome == {"T1": "correct", "T3": "wrong"}
    assert report.n_ambiguous == 0 and report.correlation_precision_unambiguous == 0.5


def test_verdicts_flagged_ambiguous_are_scored_apart(tmp_path):
    scene = Scene(tmp_path, {100: 0.0, 300: 0.5, 400: 0.5 + 20 * ARCSEC}, withheld=[])
    # 300 and 400 are co-located; the correlator swaps them and says it is not sure.
    report = scene.run(
        scene.track("T1", 100) + scene.track("T3", 300) + scene.track("T4", 400),
        scene.verdicts("T1", [100] * 4)
        + scene.verdicts("T3", [400] * 4, ambiguous=True)
        + scene.verdicts("T4", [300] * 4, ambiguous=True),
    )
    assert report.correlation_precision == pytest.approx(1 / 3)
    assert report.n_ambiguous == 2 and report.correlation_precision_unambiguous == 1.0


def test_a_uct_on_a_catalogued_object_and_a_clutter_track(tmp_path):
    scene = Scene(tmp_path, {100: 0.0, 200: 0.5}, withheld=[200])
    report = scene.run(
        scene.track("T1", 100) + scene.track("T2", 200) + scene.track("TF", None),
        scene.verdicts("T1", [None] * 4)
        + scene.verdicts("T2", [None] * 4)
        + scene.verdicts("TF", [None] * 4),
    )
    # Three UCT verdicts, one of them on a withheld object.
    assert report.uct_precision == pytest.approx(1 / 3)
    assert report.uct_recall_tracked == 1.0
    assert report.correlation_recall_tracked == 0.0
    assert report.false_track_rate == pytest.approx(1 / 3)
    # The clutter track sits 1.4 deg from any object: a false estimate in every frame.
    assert report.gospa_mean_false == 1.0 and report.gospa_mean_missed == 0.0
    assert report.gospa_mean_arcsec == pytest.approx(math.sqrt(60.0**2 / 2), rel=1e-6)


def test_partial_track_purity_completeness_and_missed_objects(tmp_path):
    scene = Scene(tmp_path, {100: 0.0, 200: 0.5}, withheld=[])
    # T1 holds object 100 in frames 0-2 and takes the false alarm in frame 3: purity 3/4,
    # completeness 3/4. Object 200 is never tracked: missed in every frame for GOSPA.
    updates = scene.track("T1", 100, frames=range(3)) + scene.track("T1", None, frames=range(3, 4))
    report = scene.run(updates, scene.verdicts("T1", [100] * 4), gospa_c_arcsec=30.0)
    [track] = report.tracks
    assert track.truth_norad_id == 100
    assert track.purity == pytest.approx(0.75) and track.completeness == pytest.approx(0.75)
    assert report.correlation_recall_detected == pytest.approx(0.5)
    assert report.gospa_c_arcsec == 30.0
    # Frames 0-2 miss object 200; frame 3 misses both, the track being at the false alarm
    # 1.1 deg away, which is also a false estimate.
    assert report.gospa_mean_missed == pytest.approx(1.25)
    assert report.gospa_mean_false == pytest.approx(0.25)
    table = report.to_table()
    assert "correlation precision (final)" in table and 'GOSPA mean, c=30"' in table
    json.dumps(report.to_dict())  # serialisable, NaN turned into null


def test_tentative_tracks_are_not_scored_as_confirmed(tmp_path):
    scene = Scene(tmp_path, {100: 0.0}, withheld=[])
    report = scene.run(scene.track("T1", 100, status="tentative"), [])
    assert report.n_tracks == 1 and report.n_confirmed == 0
    assert np.isnan(report.false_track_rate) and np.isnan(report.correlation_precision)
    assert report.gospa_mean_missed == 1.0


def test_evaluate_is_read_then_score_then_plot(tmp_path):
    scene = Scene(tmp_path, {100: 0.0, 200: 0.5}, withheld=[200])
    report = scene.run(
        scene.track("T1", 100, offset_arcsec=3.0) + scene.track("T2", 200),
        scene.verdicts("T1", [100, None, 100, 100]) + scene.verdicts("T2", [None] * 4),
        plot=True,
        gospa_c_arcsec=30.0,
    )
    run = read_run(scene.scenario_dir / "truth.json", scene.results)
    assert len(run.frames) == scene.n and len(run.updates) == 8 and len(run.associations) == 8
    # Scoring reads nothing: the files can go.
    for path in [*scene.scenario_dir.iterdir(), scene.results / "tracks.jsonl"]:
        path.unlink()
    assert score(run, gospa_c_arcsec=30.0) == report
    plot_evaluation(report, run, tmp_path / "again.png")
    written = (scene.results / "evaluation.png").read_bytes()
    assert (tmp_path / "again.png").read_bytes() == written
    assert run.established() == run.updates  # every record here is of a confirmed track


def test_bad_inputs_are_named(tmp_path):
    scene = Scene(tmp_path, {100: 0.0}, withheld=[])
    stranger = scene.track("T1", 100)[0].model_copy(update={"det_id": "other:0"})
    with pytest.raises(ValueError, match="other:0"):
        scene.run([stranger], [])
    (scene.results / "tracks.jsonl").write_text('{"track_id": "T1"}\n')
    with pytest.raises(ValueError, match="tracks.jsonl"):
        evaluate(scene.scenario_dir / "truth.json", scene.results, plot=False)
    (scene.scenario_dir / "scenario.json").unlink()
    with pytest.raises(FileNotFoundError, match="scenario.json"):
        evaluate(scene.scenario_dir / "truth.json", scene.results, plot=False)


# ------------------------------------------------------------------------ identification


def _identification_scene(tmp_path: Path) -> tuple[Scene, EvaluationReport]:
    """Six frames, six objects: 300 and 400 co-located (20" apart), 200 withheld.

    T1 follows 100, UCT at first, then named right: one flip. T2 follows the withheld 200, UCT
    all along. T3 follows 300; the correlator hesitates between 300 and 400 and ends on 400,
    flagged ambiguous with 300 the runner-up: three flips, a wrong claim whose runner-up is the
    truth. T4 follows 400, named 400, ambiguous with runner-up 300: the truth is chosen. T5
    follows 500 for three frames then 600 for three: a swap; it never gets a verdict, so the
    sightings of 500 and 600 are in no scored track.
    """
    objects = {100: 0.0, 200: 0.5, 300: 1.0, 400: 1.0 + 20 * ARCSEC, 500: 1.5, 600: 1.6}
    scene = Scene(tmp_path, objects, withheld=[200], n=6)
    report = scene.run(
        scene.track("T1", 100)
        + scene.track("T2", 200)
        + scene.track("T3", 300)
        + scene.track("T4", 400)
        + scene.track("T5", 500, frames=range(3))
        + scene.track("T5", 600, frames=range(3, 6)),
        scene.verdicts("T1", [None, 100, 100, 100, 100, 100])
        + scene.verdicts("T2", [None] * 6)
        + scene.verdicts("T3", [300, 400, 300, 400, 400, 400], ambiguous=True, runner_up=300)
        + scene.verdicts("T4", [400] * 6, ambiguous=True, runner_up=300),
    )
    return scene, report


def test_identification_figures_of_a_known_run(tmp_path):
    _, report = _identification_scene(tmp_path)
    c = report.identification
    assert (c.claims, c.claims_unambiguous, c.claims_unambiguous_right) == (3, 1, 1)
    assert c.unambiguous_precision == 1.0
    assert c.ambiguous == 2 and c.ambiguous_share == pytest.approx(2 / 3)
    assert (c.ambiguous_truth_chosen, c.ambiguous_truth_runner_up) == (1, 1)
    assert c.ambiguous_top_two == 1.0
    # Tracks of catalogued objects: T1, T3, T4 (scored) and T5 (not); only T1 named right
    # without doubt.
    assert (c.catalogued_tracks, c.catalogued_scored, c.catalogued_named_right) == (4, 3, 1)
    assert c.named_right_of_scored == pytest.approx(1 / 3)
    assert c.named_right_of_tracks == pytest.approx(1 / 4)
    # Six objects seen six times each; 100-400 in scored tracks; the withheld 200 a UCT.
    assert (c.sightings, c.sightings_scored) == (6, 4) and c.scored_coverage == pytest.approx(4 / 6)
    assert (c.withheld_sightings, c.withheld_uct) == (1, 1) and c.uct_recall == 1.0
    assert (c.scored_tracks, c.flips, c.flipping_tracks, c.max_flips) == (4, 4, 2, 3)
    assert c.flips_per_track == 1.0 and c.flipping_share == 0.5
    assert (c.swapped_tracks, c.swaps) == (1, 1)
    flips = {t.track_id: (t.n_flips, t.n_swaps, t.runner_up_norad_id) for t in report.tracks}
    assert flips == {
        "T1": (1, 0, None),
        "T2": (0, 0, None),
        "T3": (3, 0, 300),
        "T4": (0, 0, 300),
        "T5": (0, 1, None),
    }
    # One sensor: its figures are the run's; no task is known, so no orbit class.
    assert report.identification_by_sensor == {"s1": c}
    assert report.identification_by_class == {}
    # The figures the report already had keep their meaning beside the new ones.
    assert report.n_ambiguous == c.ambiguous
    assert report.correlation_precision_unambiguous == c.unambiguous_precision
    table = report.to_table()
    assert "precision of unambiguous claims" in table and "tracks that swap objects" in table
    data = json.loads(json.dumps(report.to_dict()))
    assert data["identification"]["claims"] == 3
    assert data["identification"]["scored_coverage"] == pytest.approx(4 / 6)


def test_identification_by_orbit_class_follows_the_sensor_tasks(tmp_path):
    scene, _ = _identification_scene(tmp_path)
    path = scene.scenario_dir / "scenario.json"
    meta = json.loads(path.read_text())
    meta["settings"] = {"sensors": [{"sensor_id": "s1", "task": "geo_cluster"}]}
    path.write_text(json.dumps(meta))
    report = score(read_run(scene.scenario_dir / "truth.json", scene.results, frames=False))
    assert report.identification_by_class == {"GEO": report.identification}
    assert "GEO: identification" in report.to_table()


def test_identification_counts_add_up_across_runs():
    a = Identification(claims=3, claims_unambiguous=2, claims_unambiguous_right=2, max_flips=4)
    b = Identification(claims=5, claims_unambiguous=5, claims_unambiguous_right=3, max_flips=2)
    pooled = a + b
    assert (pooled.claims, pooled.claims_unambiguous, pooled.max_flips) == (8, 7, 4)
    assert pooled.unambiguous_precision == pytest.approx(5 / 7)
    assert (
        np.isnan(Identification().uct_recall) and Identification().to_dict()["uct_recall"] is None
    )


def test_swaps_need_sustained_runs_of_two_objects():
    assert count_swaps([1, 1, 1, 2, 2, 2]) == 1
    assert count_swaps([1, 1, None, 1, None, 2, 2, 2]) == 1  # false alarms are skipped
    assert count_swaps([1, 1, 1, 2, 1, 1, 1]) == 0  # one stray detection is no swap
    assert count_swaps([1, 1, 1, 2, 2, 2, 1, 1, 1]) == 2
    assert count_swaps([1, 1, 2, 2]) == 0 and count_swaps([1, 1, 2, 2], min_run=2) == 1
    assert count_swaps([]) == 0


def test_verdict_flips_count_changes_of_name_or_uct(tmp_path):
    scene = Scene(tmp_path, {100: 0.0}, withheld=[])
    records = scene.verdicts("T1", [None, 100, 100, 200])
    assert count_verdict_flips(records) == 2
    # Doubt alone (the same name, now ambiguous) is no flip.
    steady = scene.verdicts("T1", [100, 100]) + scene.verdicts("T1", [100], ambiguous=True)
    assert count_verdict_flips(steady) == 0


def test_the_plot_labels_what_a_person_needs_to_find_the_wrong_track(tmp_path):
    # Two co-located objects; the track of 100 is taken for 200 and drawn over the right one.
    scene = Scene(tmp_path, {100: 0.0, 200: 0.0}, withheld=[])
    report = scene.run(
        scene.track("T1", 100) + scene.track("T2", 200),
        scene.verdicts("T1", [200] * 4) + scene.verdicts("T2", [200] * 4),
    )
    run = read_run(scene.scenario_dir / "truth.json", scene.results)
    labels = plot_evaluation(report, run, tmp_path / "plot.png")
    (sensor_labels,) = labels.values()
    outcome = {t.track_id: t.outcome for t in report.tracks}
    assert sorted(outcome.values()) == ["correct", "wrong"]
    wrong = next(t for t, o in outcome.items() if o == "wrong")
    assert f"{wrong.rsplit('-', 1)[-1]}: said 200, is 100" in sensor_labels
    assert len(sensor_labels) == 2 and (tmp_path / "plot.png").stat().st_size > 0

"""Figures of an evaluation: where the tracks went on the sky, and GOSPA over time.

:func:`plot_evaluation` draws what :func:`~orbitlink.tracking.evaluate.score` found on the run
it scored; matplotlib is imported (with the non-interactive Agg backend) only when a figure is
drawn, so nothing else of the library needs it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .sky import gnomonic_from_radec, unit_from_radec
from .times import unix_from_datetime

if TYPE_CHECKING:
    from .evaluate import EvaluationReport, ScenarioRun, TrackScore

__all__ = ["plot_evaluation", "track_label"]

_OUTCOME_STYLE = {  # colour and legend text of each track outcome
    "correct": ("tab:green", "correlated, right object"),
    "wrong": ("tab:red", "correlated, wrong object"),
    "uct_correct": ("tab:blue", "UCT, withheld object"),
    "uct_missed": ("tab:orange", "UCT, catalogued object"),
    "none": ("tab:olive", "no verdict"),
    "false": ("black", "false track (clutter)"),
}
#: Outcomes a reader looks for: drawn last and thickest (never hidden under a right track,
#: as co-located GEO objects' tracks lie on top of each other) and labelled in full.
_FAULTS = ("wrong", "uct_missed", "false", "none")


def track_label(score: TrackScore) -> str:
    """What a track's label says: its number, and for a fault what it was taken for and what
    it is (``"000012: said 25544, is 28884"``)."""
    number = score.track_id.rsplit("-", 1)[-1]
    if score.outcome not in _FAULTS:
        return number
    said = (
        "UCT"
        if score.verdict_uct
        else "no verdict"
        if score.verdict_norad_id is None
        else str(score.verdict_norad_id)
    )
    truth = "clutter" if score.truth_norad_id is None else str(score.truth_norad_id)
    return f"{number}: said {said}, is {truth}"


def plot_evaluation(
    report: EvaluationReport, run: ScenarioRun, path: str | Path
) -> dict[str, list[str]]:
    """Write a PNG to ``path``: per sensor, a tangent-plane sky plot (about the mean pointing,
    east to the left, in degrees) of the detections (grey, if ``run.frames`` were read) and of
    the confirmed tracks coloured by outcome, each labelled at its end (:func:`track_label`),
    the faulty ones drawn thick over the right ones, dotted where the final verdict is
    ambiguous, a cross at the end of a track that swapped objects; below, GOSPA per frame of
    every sensor, in arc-seconds. Returns the labels drawn, by sensor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenario_frames = run.scenario["frames"]
    sensors = sorted({f["sensor_id"] for f in scenario_frames})
    if not sensors:
        return {}
    detections: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for frame in run.frames or []:
        detections[frame.sensor_id] += [(d.ra_deg, d.dec_deg) for d in frame.detections]
    scores = {s.track_id: s for s in report.tracks}
    paths: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for update in run.established():
        paths[update.sensor_id][update.track_id].append((update.ra_deg, update.dec_deg))

    labels: dict[str, list[str]] = defaultdict(list)
    figure = plt.figure(figsize=(5.0 * len(sensors), 9.0), layout="constrained")
    grid = figure.add_gridspec(2, len(sensors), height_ratios=[2.2, 1.0])
    for column, sensor in enumerate(sensors):
        axes = figure.add_subplot(grid[0, column])
        centres = [
            (f["fov"]["ra_deg"], f["fov"]["dec_deg"])
            for f in scenario_frames
            if f["sensor_id"] == sensor
        ]
        # Project about the mean pointing so a field that drifts in RA stays undistorted.
        mean = unit_from_radec(*np.array(centres).T).mean(axis=0)
        ra0 = float(np.degrees(np.arctan2(mean[1], mean[0])) % 360.0)
        dec0 = float(np.degrees(np.arctan2(mean[2], np.hypot(mean[0], mean[1]))))
        if detections[sensor]:
            xi, eta = gnomonic_from_radec(*np.array(detections[sensor]).T, ra0, dec0)
            axes.scatter(xi, eta, s=3, c="0.75", lw=0, label="detections")
        drawn: set[str] = set()
        # Right tracks first and thin, faults over them; labels staggered so that tracks
        # ending at one place (co-located objects) stay readable.
        order = sorted(
            paths[sensor].items(),
            key=lambda item: (_outcome(scores, item[0]) in _FAULTS, item[0]),
        )
        for rank, (track_id, points) in enumerate(order):
            kind = _outcome(scores, track_id)
            colour, text = _OUTCOME_STYLE[kind]
            fault = kind in _FAULTS
            score = scores.get(track_id)
            ambiguous = score is not None and score.ambiguous
            if ambiguous:  # dotted: the correlator said it was not sure
                text += ", ambiguous"
            xi, eta = gnomonic_from_radec(*np.array(points).T, ra0, dec0)
            axes.plot(
                xi,
                eta,
                ":" if ambiguous else "--" if fault else "-",
                color=colour,
                lw=2.2 if fault else 1.0,
                zorder=3 if fault else 2,
                label=None if text in drawn else text,
            )
            if score is not None and score.n_swaps:  # a cross where a swapped track ends
                swap = None if "swap" in drawn else "track swapped objects (end)"
                axes.plot(xi[-1:], eta[-1:], "x", color=colour, ms=7, zorder=4, label=swap)
                drawn.add("swap")
            axes.plot(xi[-1:], eta[-1:], "o", color=colour, ms=3, zorder=3)
            label = track_label(scores[track_id]) if track_id in scores else track_id
            labels[sensor].append(label)
            axes.annotate(
                label,
                (xi[-1], eta[-1]),
                xytext=(4, 7 * (rank % 4) - 10),
                textcoords="offset points",
                fontsize=7 if fault else 5,
                color=colour,
                fontweight="bold" if fault else "normal",
                zorder=4,
            )
            drawn.add(text)
        axes.set_title(f"{sensor}: sky about RA {ra0:.2f}°, Dec {dec0:+.2f}° (degrees)")
        axes.set_xlabel("xi (deg, +RA)")
        axes.set_ylabel("eta (deg, +Dec)")
        axes.invert_xaxis()  # sky convention: east to the left
        axes.set_aspect("equal", adjustable="datalim")
        axes.legend(fontsize=7, loc="best")
    axes = figure.add_subplot(grid[1, :])
    start = min(unix_from_datetime(f["time"]) for f in scenario_frames)
    for sensor in sensors:
        rows = [s for s in report.gospa_series if s["sensor_id"] == sensor]
        t = [unix_from_datetime(s["time"]) - start for s in rows]
        axes.plot(t, [s["distance_arcsec"] for s in rows], ".-", ms=3, lw=0.8, label=sensor)
    axes.set_xlabel("time since start (s)")
    axes.set_ylabel(f"GOSPA (arcsec, c={report.gospa_c_arcsec:g})")
    axes.legend(fontsize=8)
    axes.set_title(f"GOSPA per frame (arcsec), mean {report.gospa_mean_arcsec:.1f} arcsec")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return dict(labels)


def _outcome(scores: dict[str, TrackScore], track_id: str) -> str:
    score = scores.get(track_id)
    return "none" if score is None else score.outcome

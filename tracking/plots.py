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
    from .evaluate import EvaluationReport, ScenarioRun

__all__ = ["plot_evaluation"]

_OUTCOME_STYLE = {  # colour and legend text of each track outcome
    "correct": ("tab:green", "correlated, right object"),
    "wrong": ("tab:red", "correlated, wrong object"),
    "uct_correct": ("tab:blue", "UCT, withheld object"),
    "uct_missed": ("tab:orange", "UCT, catalogued object"),
    "none": ("tab:olive", "no verdict"),
    "false": ("black", "false track (clutter)"),
}


def plot_evaluation(report: EvaluationReport, run: ScenarioRun, path: str | Path) -> None:
    """Write a PNG to ``path``: per sensor, a tangent-plane sky plot (about the mean pointing,
    east to the left) of the detections (grey, if ``run.frames`` were read) and of the
    confirmed tracks coloured by outcome (dashed where the final verdict is ambiguous, a cross
    at the end of a track that swapped objects); below, GOSPA per frame of every sensor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenario_frames = run.scenario["frames"]
    sensors = sorted({f["sensor_id"] for f in scenario_frames})
    if not sensors:
        return
    detections: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for frame in run.frames or []:
        detections[frame.sensor_id] += [(d.ra_deg, d.dec_deg) for d in frame.detections]
    outcome = {s.track_id: s.outcome for s in report.tracks}
    ambiguous = {s.track_id for s in report.tracks if s.ambiguous}
    swapped = {s.track_id for s in report.tracks if s.n_swaps}
    paths: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for update in run.established():
        paths[update.sensor_id][update.track_id].append((update.ra_deg, update.dec_deg))

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
        for track_id, points in sorted(paths[sensor].items()):
            colour, text = _OUTCOME_STYLE[outcome.get(track_id, "none")]
            if track_id in ambiguous:  # dashed: the correlator said it was not sure
                text += ", ambiguous"
            xi, eta = gnomonic_from_radec(*np.array(points).T, ra0, dec0)
            style = "--" if track_id in ambiguous else "-"
            axes.plot(xi, eta, style, color=colour, lw=1.2, label=None if text in drawn else text)
            drawn.add(text)
            if track_id in swapped:  # a cross where a track that swapped objects ends
                label = None if "swap" in drawn else "track swapped objects (end)"
                axes.plot(xi[-1:], eta[-1:], "x", color=colour, ms=7, label=label)
                drawn.add("swap")
        axes.set_title(f"{sensor}: about RA {ra0:.2f}, Dec {dec0:+.2f}")
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
    axes.set_title(f"GOSPA per frame, mean {report.gospa_mean_arcsec:.1f} arcsec")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)

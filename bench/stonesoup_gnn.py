"""Stone Soup 1.9.1's multi-target tracker with the components the tracker benchmark compares
against: a Kalman filter with a constant-velocity model, a Mahalanobis distance hypothesiser,
GNN assignment (plain, or over a KD-tree of the detections), a MultiMeasurementInitiator and
a deleter after a number of missed steps.

:func:`build_tracker` is what ``bench/tracker.py`` and ``bench/replay.py`` use. Run as a
program it is the Stone Soup side of ``bench/replay.py``, a whole process that imports no
orbitlink: ``python bench/stonesoup_gnn.py DETECTIONS PARAMETERS OUT`` reads one JSON line per
frame (``{"time_s": t, "points": [[x, y], ...]}``, plane coordinates in degrees), the
parameters as JSON (the keyword arguments of :func:`build_tracker` but the detections), and
writes one JSON line per frame with the track positions (``{"points": [[x, y], ...]}``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import numpy as np

EPOCH = datetime(2026, 5, 30, 2, 0, 0, tzinfo=UTC)


def build_tracker(
    frames: Iterable[tuple[float, np.ndarray]],
    *,
    sigma_deg: float,
    q: float,
    gate: float,
    max_speed_deg_s: float,
    confirm_m: int,
    delete_after_misses: int,
    kd_tree: bool,
):
    """A Stone Soup ``MultiTargetTracker`` over ``frames``, ``(time s, points (n, 2) deg)``.

    ``q`` is the constant-velocity model's noise density per axis, ``gate`` the Mahalanobis
    distance (not squared) beyond which a detection is missed.
    """
    from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
    from stonesoup.dataassociator.tree import DetectionKDTreeGNN2D
    from stonesoup.deleter.time import UpdateTimeStepsDeleter
    from stonesoup.hypothesiser.distance import DistanceHypothesiser
    from stonesoup.initiator.simple import MultiMeasurementInitiator
    from stonesoup.measures import Mahalanobis
    from stonesoup.models.measurement.linear import LinearGaussian
    from stonesoup.models.transition.linear import (
        CombinedLinearGaussianTransitionModel,
        ConstantVelocity,
    )
    from stonesoup.predictor.kalman import KalmanPredictor
    from stonesoup.tracker.simple import MultiTargetTracker
    from stonesoup.types.detection import Detection
    from stonesoup.types.state import GaussianState
    from stonesoup.updater.kalman import KalmanUpdater

    transition = CombinedLinearGaussianTransitionModel([ConstantVelocity(q), ConstantVelocity(q)])
    measurement = LinearGaussian(
        ndim_state=4, mapping=(0, 2), noise_covar=np.diag([sigma_deg**2, sigma_deg**2])
    )
    predictor = KalmanPredictor(transition)
    updater = KalmanUpdater(measurement)
    hypothesiser = DistanceHypothesiser(
        predictor, updater, measure=Mahalanobis(), missed_distance=gate
    )
    if kd_tree:
        associator = DetectionKDTreeGNN2D(
            hypothesiser=hypothesiser, predictor=predictor, updater=updater, max_distance=0.1
        )
    else:
        associator = GNNWith2DAssignment(hypothesiser)
    prior = GaussianState(
        np.zeros((4, 1)),
        np.diag([sigma_deg**2, max_speed_deg_s**2, sigma_deg**2, max_speed_deg_s**2]),
    )
    initiator = MultiMeasurementInitiator(
        prior_state=prior,
        measurement_model=measurement,
        deleter=UpdateTimeStepsDeleter(2),
        data_associator=associator,
        updater=updater,
        min_points=confirm_m,
    )

    detections = []
    for time_s, points in frames:
        stamp = EPOCH + timedelta(seconds=time_s)
        detections.append(
            (
                stamp,
                {
                    Detection(np.array([[x], [y]]), timestamp=stamp, measurement_model=measurement)
                    for x, y in np.asarray(points, dtype=float).reshape(-1, 2).tolist()
                },
            )
        )
    return MultiTargetTracker(
        initiator=initiator,
        deleter=UpdateTimeStepsDeleter(delete_after_misses),
        detector=detections,
        data_associator=associator,
        updater=updater,
    )


def positions(tracks) -> np.ndarray:
    """The plane positions ``(n, 2)`` of Stone Soup tracks."""
    return np.array([[t.state_vector[0, 0], t.state_vector[2, 0]] for t in tracks]).reshape(-1, 2)


def main(argv: list[str]) -> int:
    detections_path, parameters_path, out_path = argv
    with open(parameters_path) as handle:
        parameters = json.load(handle)
    with open(detections_path) as handle:
        frames = [(row["time_s"], row["points"]) for row in map(json.loads, handle)]
    tracker = build_tracker(frames, **parameters)
    with open(out_path, "w") as out:
        for _, tracks in tracker:
            out.write(json.dumps({"points": positions(tracks).tolist()}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

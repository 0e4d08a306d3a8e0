"""The correlator's single-frame entry points: the stages of the package, in order.

:func:`correlate_tracks` names the tracks of one frame from their filtered states alone (each
state stands for its track's arc, :mod:`.measures`); the pipeline uses :func:`.identify`,
which keeps each track's evidence over its measured arc instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ..models import Association, FieldOfView, Sensor, TrackUpdate
from ..predict import SkyPredictor
from .assign import assign
from .coarse import coarse_select
from .measures import state_sums
from .objects import object_states
from .pairs import CandidatePairs, empty_pairs
from .path import path_points
from .records import associations
from .scoring import score_candidates
from .settings import CorrelationSettings
from .tracks import frame_tracks

__all__ = ["correlate_tracks", "measure_candidates"]


def measure_candidates(
    tracks: Sequence[TrackUpdate],
    sensor: Sensor,
    predictor: SkyPredictor,
    settings: CorrelationSettings = CorrelationSettings(),
    *,
    fov: FieldOfView | None = None,
) -> CandidatePairs:
    """Coarse-select candidate objects for every track and score each pair from the track's
    state: everything :func:`correlate_tracks` does before the assignment. Same arguments."""
    if not tracks:
        return empty_pairs(0)
    trk = frame_tracks(tracks, sensor)
    catalogue = predictor.catalogue
    if len(catalogue) == 0:
        return empty_pairs(len(trk))
    _, observer_velocity = predictor.observer_state_gcrs_km(sensor, trk.time_unix_s)
    prediction = predictor.at(sensor, trk.time_unix_s)
    objects = object_states(
        trk,
        prediction,
        catalogue.epoch_unix_s,
        predictor.orbit_classes(),
        predictor.mean_motion_rad_s(),
        observer_velocity,
        sensor,
        settings,
        fov,
    )
    if objects is None:
        return empty_pairs(len(trk))
    pairs = coarse_select(trk, objects, settings)
    if len(pairs) == 0:
        return empty_pairs(len(trk))
    points = path_points(predictor, sensor, trk, objects, pairs, settings)
    sums, ok = state_sums(trk, objects, pairs, points, sensor)
    scored = score_candidates(
        trk,
        objects,
        prediction,
        pairs.track,
        pairs.row,
        sums,
        np.full(len(pairs), trk.time_unix_s),
        np.ones(len(pairs), dtype=np.intp),
        points.range_km,
        np.degrees(np.linalg.norm(points.path, axis=-1)),
        points.motion,
        catalogue,
        settings,
    )
    if not ok.all():
        scored = replace(scored, log_lr=np.where(ok, scored.log_lr, np.nan))
    return scored


def correlate_tracks(
    tracks: Sequence[TrackUpdate],
    sensor: Sensor,
    predictor: SkyPredictor,
    settings: CorrelationSettings = CorrelationSettings(),
    *,
    fov: FieldOfView | None = None,
) -> list[Association]:
    """Name each track with a catalogue object, or declare it uncorrelated, from its state.

    ``tracks`` are the current states of the tracks of one ``sensor`` at one time (one
    frame). ``predictor`` holds the catalogue and predicts it: the whole catalogue at the
    tracks' time, the candidates' paths around it, the sensor's own state. ``fov``, when
    given, limits the catalogue to objects that can reach the field within their search
    window.

    Returns one :class:`~orbitlink.tracking.models.Association` per track, in the order given,
    with the verdict, confidence, runner-up and ambiguity of :mod:`.records`: each candidate's
    evidence is the track's position and rate against the candidate's path, weighed against the
    hypothesis of an uncatalogued object (:mod:`.hypotheses`), and the frame's tracks are
    assigned jointly (:mod:`.assign`).
    """
    if not tracks:
        return []
    pairs = measure_candidates(tracks, sensor, predictor, settings, fov=fov)
    chosen = assign(pairs.track, pairs.object_index, pairs.log_lr, pairs.n_tracks)
    return associations(tracks, predictor.catalogue, pairs, chosen, settings)

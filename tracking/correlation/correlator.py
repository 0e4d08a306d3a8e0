"""The correlator's two entry points: the stages of the package, in order."""

from __future__ import annotations

from collections.abc import Sequence

from ..models import Association, FieldOfView, Sensor, TrackUpdate
from ..predict import SkyPredictor
from .assign import assign
from .coarse import coarse_select
from .measures import CandidatePairs, empty_pairs, measure
from .objects import object_states
from .path import path_points
from .records import associations
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
    """Coarse-select candidate objects for every track and measure each pair: everything
    :func:`correlate_tracks` does before the assignment. Same arguments."""
    if not tracks:
        return empty_pairs(0)
    trk = frame_tracks(tracks, sensor)
    catalogue = predictor.catalogue
    if len(catalogue) == 0:
        return empty_pairs(len(trk))
    _, observer_velocity = predictor.observer_state_gcrs_km(sensor, trk.time_unix_s)
    objects = object_states(
        trk,
        predictor.at(sensor, trk.time_unix_s),
        catalogue.epoch_unix_s,
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
    return measure(trk, objects, pairs, points, sensor, settings)


def correlate_tracks(
    tracks: Sequence[TrackUpdate],
    sensor: Sensor,
    predictor: SkyPredictor,
    settings: CorrelationSettings = CorrelationSettings(),
    *,
    fov: FieldOfView | None = None,
) -> list[Association]:
    """Name each track with a catalogue object, or declare it uncorrelated.

    ``tracks`` are the current states of the confirmed tracks of one ``sensor`` at one time
    (one frame). ``predictor`` holds the catalogue and predicts it: the whole catalogue at the
    tracks' time, the candidates' paths around it, the sensor's own state. ``fov``, when
    given, limits the catalogue to objects that can reach the field within their search
    window.

    Returns one :class:`~orbitlink.tracking.models.Association` per track, in the order given:

    * correlated (``uct=False``): ``norad_id``/``name`` of the object assigned; residuals;
      ``score`` (sum of squared normalised residuals, lower is better); ``confidence`` =
      L / (L0 + sum of L over the track's acceptable candidates + L of the best rejected one),
      with ``L = exp(-score/2)`` and ``L0 = exp(-chi2_gate/2)`` the "unknown object"
      alternative; ``ambiguous`` when an acceptable runner-up scores within
      ``ambiguity_delta_chi2``. The runner-up (best other acceptable candidate) is reported
      whenever there is one.
    * uncorrelated (``uct=True``): residual fields and score null; ``confidence`` = L0 / (the
      same denominator), 1 when no candidate came near. An acceptable candidate that another
      track claimed is reported as the runner-up.

    ``n_candidates`` counts the acceptable candidates of the track (all gates passed).
    """
    if not tracks:
        return []
    pairs = measure_candidates(tracks, sensor, predictor, settings, fov=fov)
    chosen = assign(pairs, settings.chi2_gate)
    return associations(tracks, predictor.catalogue, pairs, chosen, settings)

"""Scoring candidate pairs from their evidence: the step the arc and state forms share."""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from ..catalogue import Catalogue
from ..constants import ARCSEC_PER_DEG, SECONDS_PER_DAY
from ..predict import SkyPrediction
from ..types import Array, IntArray
from .error_model import ElementPriors
from .evidence import posterior
from .hypotheses import fitted_pair_offsets, log_uncatalogued_density, pair_priors, score_pairs
from .objects import ObjectStates
from .pairs import CandidatePairs
from .settings import CorrelationSettings
from .tracks import FrameTracks

__all__ = ["score_candidates"]


def score_candidates(
    tracks: FrameTracks,
    objects: ObjectStates,
    prediction: SkyPrediction,
    track: IntArray,
    row: IntArray,
    sums: Array,
    t_ref_s: Array,
    detections: IntArray,
    range_km: Array,
    path_speed_deg_s: Array,
    motion: Array,
    catalogue: Catalogue,
    settings: CorrelationSettings,
) -> CandidatePairs:
    """The pairs ``(track, objects row)`` with their evidence ``sums`` (time origin
    ``t_ref_s``), scored against the uncatalogued-object hypothesis.

    ``range_km``, ``path_speed_deg_s`` and ``motion`` (apparent angular velocity, rad/s) are
    each pair's geometry at the frame time.
    """
    trk = tracks
    slow = objects.slow[row]
    element = objects.priors
    pair_element = ElementPriors(**{f.name: getattr(element, f.name)[row] for f in fields(element)})
    priors = pair_priors(
        pair_element,
        slow,
        range_km,
        path_speed_deg_s,
        np.linalg.norm(motion, axis=-1),
        objects.mean_motion_rad_s[row],
    )
    track_motion = np.radians(trk.rate_deg_s[:, :1] * trk.east + trk.rate_deg_s[:, 1:] * trk.north)
    log_density = log_uncatalogued_density(trk.unit, track_motion, prediction, settings)
    log_lr = score_pairs(sums, priors, log_density, track)
    fitted = fitted_pair_offsets(sums, priors, trk.time_unix_s - t_ref_s)
    mean, cov = posterior(sums, priors.intercept_var, priors.slope_var)
    # Move the line's origin from each pair's reference time to the frame time.
    lag = (trk.time_unix_s - t_ref_s)[:, None]
    shift = np.zeros(cov.shape)
    shift[..., 0, 0] = shift[..., 1, 1] = 1.0
    shift[..., 0, 1] = lag
    mean = np.einsum("pcij,pcj->pci", shift, mean)
    cov = np.einsum("pcij,pcjk,pclk->pcil", shift, cov, shift)
    direction_deg, rate_fraction = _rate_residuals(trk, track, motion)
    index = objects.index[row]
    return CandidatePairs(
        track=track,
        object_index=index,
        log_lr=log_lr,
        along_track_s=np.where(slow, np.nan, fitted[:, 0]),
        cross_track_arcsec=np.degrees(fitted[:, 1] / np.maximum(range_km, 1.0)) * ARCSEC_PER_DEG,
        direction_deg=direction_deg,
        rate_fraction=rate_fraction,
        element_age_days=(trk.time_unix_s - catalogue.epoch_unix_s[index]) / SECONDS_PER_DAY,
        arc_detections=np.asarray(detections, dtype=np.intp),
        slow=slow,
        n_tracks=len(trk),
        offset_mean=mean,
        offset_cov=cov,
        drift_var=priors.slope_var,
    )


def _rate_residuals(trk: FrameTracks, track: IntArray, motion: Array) -> tuple[Array, Array]:
    """Direction (deg) and fractional speed of each pair's track rate against the object's
    apparent motion at the frame."""
    e, n = trk.east[track], trk.north[track]
    xy = np.degrees(np.stack([np.sum(motion * e, -1), np.sum(motion * n, -1)], -1))
    speed = np.hypot(xy[:, 0], xy[:, 1])
    w = trk.rate_deg_s[track]
    track_speed = np.hypot(w[:, 0], w[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = xy / speed[:, None]
        along = np.sum(w * unit, -1)
        across = w[:, 1] * unit[:, 0] - w[:, 0] * unit[:, 1]
        moving = speed > 1e-6
        direction = np.where(
            moving & (track_speed > 0), np.degrees(np.arctan2(across, along)), np.nan
        )
        rate = np.where(moving, track_speed / speed - 1.0, np.nan)
    return direction, rate

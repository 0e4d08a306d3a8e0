"""The two hypotheses of every track-candidate pair, in the units of the arc evidence.

*This object* (``H_j``): the along-track offset of a moving object is a time whose prior is its
element set's timing sigma; of a near-stationary one a distance (in-track and radial error);
the cross-track offset a distance (cross-track and radial error). The offsets may drift only as
far as the geometry moves a constant error across the sky: a perpendicular error ``e`` seen
at range ``r`` shifts the along-track time by about ``e / r`` per second as the line of sight
turns, and any offset changes with the orbit at ``sigma * n`` (``n`` the mean motion).

*An uncatalogued object* (``H_0``): the density of such objects around the track, in position
(deg^2) and rate ((deg/s)^2), is the density of the catalogued ones there times
``uncatalogued_prior / (1 - uncatalogued_prior)``; it is converted to the evidence's units by
the Jacobian of the offsets (a time along a path moving at ``w`` deg/s is ``w`` deg per second;
a distance at range ``r`` is ``180 / (pi r)`` deg per km).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..association import candidate_pairs as neighbours_within
from ..predict import SkyPrediction
from ..sky import tangent_basis, unit_from_radec
from ..types import Array, BoolArray, IntArray
from .error_model import ElementPriors
from .evidence import N_SUMS, fitted_offsets, log_likelihood_ratio
from .settings import CorrelationSettings

__all__ = ["PairPriors", "log_uncatalogued_density", "pair_priors", "score_pairs"]

_DEG_PER_RAD = math.degrees(1.0)
# A density estimate from a count: half an object added, so an empty neighbourhood still has
# a finite (small) density.
_COUNT_SMOOTHING = 0.5


@dataclass(frozen=True)
class PairPriors:
    """Per pair: the ``H_j`` prior variances and tails of both components, and the Jacobian
    (log) from sky density to the components' units. Component 0 is along, 1 cross."""

    intercept_var: Array  # (P, 2)
    slope_var: Array  # (P, 2)
    tail: Array  # (P, 2)
    log_jacobian: Array  # (P, 2)


def pair_priors(
    priors: ElementPriors,
    slow: BoolArray,
    range_km: Array,
    path_speed_deg_s: Array,
    apparent_rate_rad_s: Array,
    mean_motion_rad_s: Array,
) -> PairPriors:
    """The priors of pairs from their objects' element-set errors and the geometry."""
    r = np.maximum(range_km, 1.0)
    across_km = np.hypot(priors.cross_track_km, priors.radial_km)
    in_track_km = np.hypot(priors.in_track_km, priors.radial_km)
    turn = np.maximum(apparent_rate_rad_s, mean_motion_rad_s)
    along_var = np.where(slow, in_track_km**2, priors.timing_s**2)
    along_slope_var = np.where(
        slow,
        (in_track_km * mean_motion_rad_s) ** 2 + (across_km * apparent_rate_rad_s) ** 2,
        (across_km / r) ** 2 + (priors.timing_s * mean_motion_rad_s) ** 2,
    )
    cross_var = across_km**2
    cross_slope_var = (across_km * turn) ** 2
    deg_per_km = _DEG_PER_RAD / r
    along_jacobian = np.where(
        slow, 2.0 * np.log(deg_per_km), 2.0 * np.log(np.maximum(path_speed_deg_s, 1e-12))
    )
    floor = 1e-12  # a variance of exactly zero (a perfect set) would make the evidence singular
    return PairPriors(
        intercept_var=np.maximum(np.stack([along_var, cross_var], -1), floor),
        slope_var=np.maximum(np.stack([along_slope_var, cross_slope_var], -1), floor),
        tail=np.stack([priors.along_tail, priors.cross_tail], -1),
        log_jacobian=np.stack([along_jacobian, 2.0 * np.log(deg_per_km)], -1),
    )


def log_uncatalogued_density(
    track_unit: Array,
    track_motion_rad_s: Array,
    prediction: SkyPrediction,
    settings: CorrelationSettings,
) -> Array:
    """Log density of uncatalogued objects around each track, per deg^2 and (deg/s)^2.

    The catalogued objects the sensor could see (valid, above its horizon, sunlit) within
    ``density_radius_deg`` of a track and within its rate neighbourhood are counted, and the
    count (plus half an object) spread over the neighbourhood's volume.
    """
    s = settings
    visible = (
        np.asarray(prediction.valid, dtype=bool)
        & np.asarray(prediction.above_horizon, dtype=bool)
        & np.asarray(prediction.sunlit, dtype=bool)
    )
    obj = np.flatnonzero(visible)
    speed_deg_s = np.degrees(np.linalg.norm(track_motion_rad_s, axis=-1))
    rate_radius = np.maximum(
        s.density_rate_fraction * speed_deg_s, s.density_rate_floor_arcsec_s / 3600.0
    )
    count = np.zeros(len(track_unit))
    if len(obj) and len(track_unit):
        units = unit_from_radec(prediction.ra_deg[obj], prediction.dec_deg[obj])
        east, north, _ = tangent_basis(prediction.ra_deg[obj], prediction.dec_deg[obj])
        rates = np.radians(
            prediction.ra_rate_deg_s[obj, None] * east
            + prediction.dec_rate_deg_s[obj, None] * north
        )
        rows, cols = neighbours_within(
            track_unit, np.full(len(track_unit), s.density_radius_deg), units
        )
        difference = np.degrees(np.linalg.norm(rates[cols] - track_motion_rad_s[rows], axis=-1))
        near = difference <= rate_radius[rows]
        count = np.bincount(rows[near], minlength=len(track_unit)).astype(float)
    volume = (math.pi * s.density_radius_deg**2) * (math.pi * rate_radius**2)
    ratio = s.uncatalogued_prior / (1.0 - s.uncatalogued_prior)
    return np.log(ratio) + np.log((count + _COUNT_SMOOTHING) / volume)


def score_pairs(
    sums: Array, priors: PairPriors, log_density: Array, track_of_pair: IntArray
) -> Array:
    """The log-likelihood ratio ``H_j`` : ``H_0`` of each pair's arc, both components.

    ``sums`` is ``(P, 2, N_SUMS)``; ``log_density`` the tracks' sky densities of uncatalogued
    objects (:func:`log_uncatalogued_density`).
    """
    if sums.shape[-1] != N_SUMS:
        raise ValueError(f"sums must end in {N_SUMS} running sums")
    per_component = log_likelihood_ratio(
        sums,
        priors.intercept_var,
        priors.slope_var,
        priors.tail,
        priors.log_jacobian,
    )
    # The sky density enters once per pair, not once per component.
    return per_component.sum(axis=-1) - log_density[track_of_pair]


def fitted_pair_offsets(sums: Array, priors: PairPriors, t_s: Array) -> Array:
    """``(P, 2)``: the along and cross offsets ``H_j`` fits to each arc at ``t_s`` (from each
    pair's reference time)."""
    return fitted_offsets(sums, priors.intercept_var, priors.slope_var, t_s[:, None])

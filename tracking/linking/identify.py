"""Identification: which catalogue element set, if any, a provisional object is.

When new element sets arrive (a launch catalogued, a manoeuvred object's fresh TLE), each
provisional object is compared with them through its own observations: an element set is the
object if SGP4 of it reproduces every tracklet of the object once each tracklet is allowed a
small shift along the track (the usual error of an element set, and of a stale one above
all, is a timing error). What is left across the track must be small too.

Two cheap filters go first, vectorised over all the sets: an object with an orbit is compared
with the sets' mean motion, inclination and node (the node carried to the object's epoch by
J2's drift); an object without one, by where each set puts its object on the sky at the
middle of its newest tracklet. Only the survivors are propagated to every observation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import Field

from ..catalogue import Catalogue
from ..constants import EARTH_J2, EARTH_MU_KM3_S2, EARTH_RADIUS_KM, SECONDS_PER_DAY
from ..orbit.angles import (
    ARCSEC_PER_RAD,
    AngleObservations,
    predicted_directions,
    tangent_residuals_arcsec,
)
from ..orbit.tle import sgp4_gcrs
from ..settings import Settings
from ..sky import angular_separation_deg, radec_from_unit
from ..types import Array
from .orbits import ProvisionalOrbit

__all__ = ["Identification", "IdentifySettings", "identify_objects"]


class IdentifySettings(Settings):
    """When an element set is taken to be a provisional object."""

    max_along_track_km: float = Field(
        25.0,
        ge=0.0,
        description="Largest shift along the track, per tracklet, between the element set "
        "and the observations (the shift in time times the object's speed).",
    )
    max_cross_track_km: float = Field(
        5.0,
        gt=0.0,
        description="Largest RMS distance across the line of sight left once each tracklet "
        "is shifted along the track (co-located GEO satellites are kept tens of km apart).",
    )
    mean_motion_tolerance: float = Field(
        0.02, gt=0.0, description="Prefilter: largest relative difference of mean motion."
    )
    inclination_tolerance_deg: float = Field(
        1.0, gt=0.0, description="Prefilter: largest difference of inclination."
    )
    node_tolerance_deg: float = Field(
        3.0,
        gt=0.0,
        description="Prefilter: largest difference of the ascending node (orbits inclined "
        "more than a degree).",
    )
    sky_margin_deg: float = Field(
        1.0,
        gt=0.0,
        description="Prefilter of an object without an orbit: how much further than the "
        "along-track shift allows a set's object may be on the sky.",
    )


@dataclass(frozen=True)
class Identification:
    """An element set that reproduces an object's observations."""

    norad_id: int
    along_track_km: float  # the largest shift of a tracklet
    cross_track_rms_km: float

    def describe(self) -> str:
        return (
            f"its observations lie {self.cross_track_rms_km:.2f} km RMS across the element "
            f"set's track, at most {self.along_track_km:.2f} km along it"
        )


def _node_rate_rad_s(n_rad_s: Array, e: Array, i_rad: Array) -> Array:
    a = (EARTH_MU_KM3_S2 / (n_rad_s * n_rad_s)) ** (1.0 / 3.0)
    p = a * (1.0 - e * e)
    return -1.5 * n_rad_s * EARTH_J2 * (EARTH_RADIUS_KM / p) ** 2 * np.cos(i_rad)


def _element_filter(orbit: ProvisionalOrbit, sets: Catalogue, settings: IdentifySettings) -> Array:
    satrecs = sets.satrecs
    n = np.array([s.no_kozai for s in satrecs]) / 60.0  # rad/s
    e = np.array([s.ecco for s in satrecs])
    i = np.array([s.inclo for s in satrecs])
    node = np.array([s.nodeo for s in satrecs])
    mine = orbit.elements
    my_n = mine.mean_motion_rev_day * 2.0 * math.pi / SECONDS_PER_DAY
    my_i = math.radians(mine.inclination_deg)
    ok = np.abs(n - my_n) <= settings.mean_motion_tolerance * my_n
    ok &= np.abs(np.degrees(i - my_i)) <= settings.inclination_tolerance_deg
    drift = _node_rate_rad_s(n, e, i) * (mine.epoch_unix_s - sets.epoch_unix_s)
    difference = np.degrees(np.angle(np.exp(1j * (node + drift - math.radians(mine.raan_deg)))))
    inclined = min(mine.inclination_deg, 180.0 - mine.inclination_deg) > 1.0
    if inclined:
        ok &= np.abs(difference) <= settings.node_tolerance_deg
    return np.flatnonzero(ok)


def _sky_filter(obs: AngleObservations, sets: Catalogue, settings: IdentifySettings) -> Array:
    """Sets whose object is near the newest observations on the sky (no orbit to compare)."""
    last = obs.sensor_id[-1]
    rows = np.flatnonzero(obs.sensor_id == last)
    rows = rows[obs.time_unix_s[rows] >= obs.time_unix_s[rows[-1]] - 3600.0]
    middle = rows[len(rows) // 2]
    span = obs.time_unix_s[rows[-1]] - obs.time_unix_s[rows[0]]
    moved = angular_separation_deg(
        obs.ra_deg[rows[0]], obs.dec_deg[rows[0]], obs.ra_deg[rows[-1]], obs.dec_deg[rows[-1]]
    )
    rate_deg_s = float(moved) / span if span > 0 else 0.0
    slowest_km_s = 1.0  # an Earth satellite's speed is above this (HEO apogee: 1.5 km/s)
    reach_s = settings.max_along_track_km / slowest_km_s
    radius = reach_s * rate_deg_s + settings.sky_margin_deg
    single = obs.select([middle])
    _, r, v = sgp4_gcrs(sets.satrecs, single.time_unix_s)
    with np.errstate(invalid="ignore"):
        unit = predicted_directions(single, r, v)[:, 0]
    ra, dec = radec_from_unit(unit)
    separation = angular_separation_deg(ra, dec, obs.ra_deg[middle], obs.dec_deg[middle])
    return np.flatnonzero(np.nan_to_num(separation, nan=180.0) <= radius)


def _match(
    obs: AngleObservations, sets: Catalogue, index: Array, settings: IdentifySettings
) -> Identification | None:
    if len(index) == 0:
        return None
    satrecs = [sets.satrecs[k] for k in index]
    times = obs.time_unix_s
    _, r, v = sgp4_gcrs(satrecs, times)
    _, r_later, v_later = sgp4_gcrs(satrecs, times + 1.0)  # the object 1 s on, same observer
    with np.errstate(invalid="ignore"):
        now = tangent_residuals_arcsec(obs, predicted_directions(obs, r, v))
        later = tangent_residuals_arcsec(obs, predicted_directions(obs, r_later, v_later))
    rate = now - later  # arcsec/s of the prediction along its track, (M, N, 2)
    # One time shift per tracklet (a tracklet: a run of one sensor's observations).
    breaks = np.flatnonzero((obs.sensor_id[1:] != obs.sensor_id[:-1]) | (np.diff(times) > 3600.0))
    groups = np.split(np.arange(len(obs)), breaks + 1)
    cross = np.empty_like(now)
    shift = np.zeros((len(index), len(groups)))
    for g, rows in enumerate(groups):
        rr, pp = now[:, rows], rate[:, rows]
        with np.errstate(invalid="ignore", divide="ignore"):
            dt = np.sum(rr * pp, axis=(1, 2)) / np.sum(pp * pp, axis=(1, 2))
        shift[:, g] = dt
        cross[:, rows] = rr - pp * dt[:, None, None]
    range_km = np.linalg.norm(r - obs.observer_gcrs_km, axis=-1)  # (M, N)
    speed_km_s = np.linalg.norm(v, axis=-1)
    cross_km = cross * (range_km / ARCSEC_PER_RAD)[..., None]
    rms = np.sqrt(np.mean(cross_km**2, axis=(1, 2)))
    worst = np.zeros(len(index))
    for g, rows in enumerate(groups):
        worst = np.maximum(worst, np.abs(shift[:, g]) * np.mean(speed_km_s[:, rows], axis=1))
    ok = np.isfinite(rms) & (rms <= settings.max_cross_track_km)
    ok &= np.isfinite(worst) & (worst <= settings.max_along_track_km)
    if not ok.any():
        return None
    # The best by what is left across the track, then by the shift.
    score = np.where(ok, rms + 1e-3 * worst, np.inf)
    best = int(np.argmin(score))
    return Identification(
        norad_id=int(sets.norad_ids[index[best]]),
        along_track_km=float(worst[best]),
        cross_track_rms_km=float(rms[best]),
    )


def identify_objects(
    observations: Sequence[AngleObservations],
    orbits: Sequence[ProvisionalOrbit | None],
    element_sets: Catalogue,
    settings: IdentifySettings = IdentifySettings(),
) -> list[Identification | None]:
    """For each object (its observations, its orbit or None), the element set it is, if any."""
    results: list[Identification | None] = []
    for obs, orbit in zip(observations, orbits):
        if orbit is not None:
            index = _element_filter(orbit, element_sets, settings)
        else:
            index = _sky_filter(obs, element_sets, settings)
        results.append(_match(obs, element_sets, index, settings))
    return results

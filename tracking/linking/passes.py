"""Simulated UCT tracklets of real catalogue objects over several nights and sensors.

What a sensor network would hand the linker for objects the engine's catalogue lacks: for each
object and sensor, the passes in which the sensor can see it (ground: above
``min_elevation_deg`` in astronomical darkness; in orbit: clear of the Earth; sunlit either
way), each caught with probability ``catch_probability`` (a survey does not watch the whole
sky), and a tracklet of ``detections`` astrometric positions spread over part of the pass:
what the tracker keeps of a track (the truth is sgp4 of the object's TLE, as
:func:`~orbitlink.tracking.predict.predict_sky` sees it, light time included, plus Gaussian
noise of the sensor's sigma).

Tracklet lengths follow the sensors that see such objects: low orbits cross a staring
camera's field in seconds to a minute (``leo_tracklet_s``), higher ones are followed by a
survey for minutes (``high_tracklet_s``). :func:`simulate_passes` returns the tracklets in
time order with the truth of each (its NORAD id), and :func:`false_tracklets` makes tracklets
of nothing (straight lines of noise, as a false track of clutter would give).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import Field

from ..catalogue import Catalogue
from ..constants import ARCSEC_PER_DEG
from ..models import Sensor
from ..orbit.angles import simulate_observations
from ..predict import predict_sky, sun_altitude_deg
from ..settings import Settings
from ..sky import radec_from_gnomonic
from ..tracklets import Tracklet

__all__ = ["PassSettings", "SimulatedTracklet", "false_tracklets", "simulate_passes"]

#: Objects further than this from the sensor (km) are followed by surveys, nearer ones cross
#: a staring camera's field.
HIGH_RANGE_KM = 10_000.0


class PassSettings(Settings):
    """How simulated passes become tracklets."""

    step_s: float = Field(60.0, gt=0.0, description="Time step of the visibility search.")
    min_elevation_deg: float = Field(
        20.0, ge=0.0, lt=90.0, description="Ground sensors see objects above this elevation."
    )
    max_sun_altitude_deg: float = Field(
        -12.0, le=0.0, description="Ground sensors observe while the Sun is below this."
    )
    catch_probability: float = Field(
        0.5, gt=0.0, le=1.0, description="Chance that a sensor catches a pass it could see."
    )
    detections: int = Field(8, ge=3, description="Detections a tracklet keeps.")
    leo_tracklet_s: tuple[float, float] = Field(
        (10.0, 60.0), description="Range of tracklet lengths of objects nearer than 10,000 km."
    )
    high_tracklet_s: tuple[float, float] = Field(
        (300.0, 1200.0), description="Range of tracklet lengths of farther objects."
    )
    max_passes_per_night: int = Field(
        2, ge=1, description="Tracklets per object, sensor and night at most."
    )


@dataclass(frozen=True)
class SimulatedTracklet:
    """A tracklet and the truth: the object it is of (None for a false tracklet)."""

    tracklet: Tracklet
    norad_id: int | None


def _visible(catalogue: Catalogue, norad_id: int, sensor: Sensor, times, settings) -> np.ndarray:
    sky = predict_sky(catalogue, sensor, times, index=catalogue.index_of([norad_id]))
    ok = sky.valid[0] & sky.above_horizon[0] & sky.sunlit[0]
    if not sensor.is_space_based:
        ok &= sky.elevation_deg[0] > settings.min_elevation_deg
        ok &= sun_altitude_deg(sensor, times) < settings.max_sun_altitude_deg
    return ok, sky.range_km[0]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) indices of each run of True."""
    edges = np.diff(np.r_[0, mask.astype(int), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))


def simulate_passes(
    catalogue: Catalogue,
    norad_ids: Sequence[int],
    sensors: Sequence[Sensor],
    start_unix_s: float,
    duration_s: float,
    rng: np.random.Generator,
    settings: PassSettings = PassSettings(),
) -> list[SimulatedTracklet]:
    """Tracklets of ``norad_ids`` seen by ``sensors`` from ``start_unix_s`` for
    ``duration_s`` (see the module docstring), in time order; track ids are
    ``<sensor_id>-<n>``."""
    grid = start_unix_s + np.arange(0.0, duration_s, settings.step_s)
    found: list[tuple[float, int, Sensor, np.ndarray]] = []
    for norad_id in norad_ids:
        for sensor in sensors:
            ok, range_km = _visible(catalogue, norad_id, sensor, grid, settings)
            per_night: dict[int, int] = {}
            for first, last in _runs(ok):
                night = int((grid[first] - start_unix_s) // 86400.0)
                if per_night.get(night, 0) >= settings.max_passes_per_night:
                    continue
                if rng.random() >= settings.catch_probability:
                    continue
                far = float(np.nanmedian(range_km[first : last + 1])) > HIGH_RANGE_KM
                low, high = settings.high_tracklet_s if far else settings.leo_tracklet_s
                length = float(rng.uniform(low, high))
                window = grid[last] - grid[first] + settings.step_s
                length = min(length, max(window - settings.step_s, low))
                begin = grid[first] + rng.uniform(0.0, max(window - settings.step_s - length, 0.0))
                times = begin + np.linspace(0.0, length, settings.detections)
                per_night[night] = per_night.get(night, 0) + 1
                found.append((float(times[0]), norad_id, sensor, times))
    found.sort(key=lambda item: (item[0], item[1], item[2].sensor_id))
    counters: dict[str, int] = {}
    tracklets = []
    for _, norad_id, sensor, times in found:
        obs = simulate_observations(catalogue, norad_id, sensor, times, sensor.sigma_arcsec, rng)
        counters[sensor.sensor_id] = counters.get(sensor.sensor_id, 0) + 1
        track_id = f"{sensor.sensor_id}-{counters[sensor.sensor_id]:06d}"
        tracklets.append(
            SimulatedTracklet(
                Tracklet.from_arrays(track_id, sensor, obs.time_unix_s, obs.ra_deg, obs.dec_deg),
                norad_id,
            )
        )
    return tracklets


def false_tracklets(
    sensors: Sequence[Sensor],
    start_unix_s: float,
    duration_s: float,
    count: int,
    rng: np.random.Generator,
    settings: PassSettings = PassSettings(),
) -> list[SimulatedTracklet]:
    """``count`` tracklets of nothing: uniform straight lines on the sky at LEO or GEO-like
    rates, with the sensors' noise; track ids ``<sensor_id>-false-<n>``."""
    made = []
    for k in range(count):
        sensor = sensors[int(rng.integers(len(sensors)))]
        slow = bool(rng.random() < 0.5)
        rate_deg_s = rng.uniform(0.002, 0.006) if slow else rng.uniform(0.2, 1.0)
        low, high = settings.high_tracklet_s if slow else settings.leo_tracklet_s
        length = float(rng.uniform(low, high))
        t0 = start_unix_s + rng.uniform(0.0, duration_s - length)
        times = t0 + np.linspace(0.0, length, settings.detections)
        ra0, dec0 = rng.uniform(0.0, 360.0), np.degrees(np.arcsin(rng.uniform(-0.8, 0.8)))
        angle = rng.uniform(0.0, 2.0 * np.pi)
        along = rate_deg_s * (times - t0)
        noise = rng.normal(0.0, sensor.sigma_arcsec / ARCSEC_PER_DEG, (2, len(times)))
        ra, dec = radec_from_gnomonic(
            along * np.cos(angle) + noise[0], along * np.sin(angle) + noise[1], ra0, dec0
        )
        made.append(
            SimulatedTracklet(
                Tracklet.from_arrays(
                    f"{sensor.sensor_id}-false-{k + 1:04d}", sensor, times, ra, dec
                ),
                None,
            )
        )
    made.sort(key=lambda s: s.tracklet.times[0])
    return made

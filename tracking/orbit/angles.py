"""Angle observations of one object and the model that predicts them from an orbit.

:class:`AngleObservations` holds what an orbit fit needs of a track (or of several tracks,
from several sensors, days apart): times, astrometric RA/Dec and their sigmas, and, at every
time, the sensor's own GCRS position and velocity and the Earth's barycentric velocity.
:meth:`AngleObservations.from_sensor` fills in the last three from a
:class:`~orbitlink.tracking.models.Sensor` (a WGS84 site, or a camera flying on a TLE), so
the library's other conventions hold: RA/Dec are astrometric ICRS, as
:func:`~orbitlink.tracking.predict.predict_sky` computes them and as an astrometric star
catalogue measures them.

The model (:func:`predicted_directions`) is the one ``predict_sky`` uses: the object is seen
where it was one light time ``tau`` earlier, counted in the barycentric frame, so that
``rho = r(t) - R(t) - (v(t) + v_earth) tau`` with ``tau = |rho| / c`` (one fixed-point step).
Without it a LEO object at 1,000 km would be off by about 5 arcsec, a GEO object by 2.

Residuals (:func:`tangent_residuals_arcsec`) are observed minus predicted in the gnomonic
plane at the observed direction: ``(dRA cos Dec, dDec)`` in arc-seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..catalogue import Catalogue
from ..constants import ARCSEC_PER_DEG, SPEED_OF_LIGHT_KM_S
from ..ephemeris import sun_and_earth_velocity
from ..models import Sensor
from ..predict import observer_state_gcrs_km, predict_sky
from ..sky import radec_from_gnomonic, tangent_basis, unit_from_radec
from ..types import Array

__all__ = [
    "AngleObservations",
    "predicted_directions",
    "simulate_observations",
    "tangent_residuals_arcsec",
]

ARCSEC_PER_RAD = np.degrees(1.0) * ARCSEC_PER_DEG


@dataclass(frozen=True)
class AngleObservations:
    """Astrometric angles of one object, sorted by time; arrays have ``N`` rows.

    ``observer_gcrs_km``/``observer_velocity_km_s`` are the sensor's geocentric GCRS state at
    each time; ``earth_velocity_km_s`` the Earth's barycentric velocity (the light-time term);
    ``sensor_id`` names the sensor of each row.
    """

    time_unix_s: Array
    ra_deg: Array
    dec_deg: Array
    sigma_arcsec: Array
    observer_gcrs_km: Array
    observer_velocity_km_s: Array
    earth_velocity_km_s: Array
    sensor_id: NDArray[np.str_]

    def __post_init__(self) -> None:
        n = len(self.time_unix_s)
        for name in ("ra_deg", "dec_deg", "sigma_arcsec", "sensor_id"):
            if np.shape(getattr(self, name)) != (n,):
                raise ValueError(
                    f"{name} must have shape ({n},), not {np.shape(getattr(self, name))}"
                )
        for name in ("observer_gcrs_km", "observer_velocity_km_s", "earth_velocity_km_s"):
            if np.shape(getattr(self, name)) != (n, 3):
                raise ValueError(f"{name} must have shape ({n}, 3)")
        if n and not np.all(np.diff(self.time_unix_s) >= 0.0):
            raise ValueError("observations must be sorted by time (use concatenate)")
        if not np.all(np.asarray(self.sigma_arcsec) > 0.0):
            raise ValueError("every sigma_arcsec must be positive")
        numbers = (self.time_unix_s, self.ra_deg, self.dec_deg, self.observer_gcrs_km)
        if not all(np.all(np.isfinite(x)) for x in numbers):
            raise ValueError("observations must be finite")

    @classmethod
    def from_sensor(
        cls,
        sensor: Sensor,
        time_unix_s: ArrayLike,
        ra_deg: ArrayLike,
        dec_deg: ArrayLike,
        sigma_arcsec: ArrayLike | None = None,
    ) -> AngleObservations:
        """Observations by one sensor; ``sigma_arcsec`` defaults to the sensor's."""
        times = np.atleast_1d(np.asarray(time_unix_s, dtype=float))
        order = np.argsort(times, kind="stable")
        times = times[order]
        ra = np.atleast_1d(np.asarray(ra_deg, dtype=float))[order]
        dec = np.atleast_1d(np.asarray(dec_deg, dtype=float))[order]
        if sigma_arcsec is None:
            sigma = np.full(times.shape, float(sensor.sigma_arcsec))
        else:
            sigma = np.broadcast_to(np.asarray(sigma_arcsec, dtype=float), times.shape)[order]
        position, velocity = observer_state_gcrs_km(sensor, times)
        _, earth_velocity = sun_and_earth_velocity(times)
        return cls(
            time_unix_s=times,
            ra_deg=ra,
            dec_deg=dec,
            sigma_arcsec=np.array(sigma, dtype=float),
            observer_gcrs_km=position,
            observer_velocity_km_s=velocity,
            earth_velocity_km_s=earth_velocity,
            sensor_id=np.full(times.shape, sensor.sensor_id),
        )

    @classmethod
    def concatenate(cls, parts: Sequence[AngleObservations]) -> AngleObservations:
        """Several tracks (any sensors) as one set, sorted by time."""
        if not parts:
            raise ValueError("concatenate needs at least one set of observations")
        columns = {
            name: np.concatenate([getattr(part, name) for part in parts])
            for name in cls.__dataclass_fields__
        }
        order = np.argsort(columns["time_unix_s"], kind="stable")
        return cls(**{name: values[order] for name, values in columns.items()})

    def select(self, index: ArrayLike) -> AngleObservations:
        """The observations at ``index`` (a mask or sorted indices)."""
        chosen = np.asarray(index)
        return type(self)(
            **{name: getattr(self, name)[chosen] for name in type(self).__dataclass_fields__}
        )

    def __len__(self) -> int:
        return len(self.time_unix_s)

    @property
    def los_unit(self) -> Array:
        """Observed lines of sight, unit vectors ``(N, 3)``."""
        return unit_from_radec(self.ra_deg, self.dec_deg)

    @property
    def span_s(self) -> float:
        return float(self.time_unix_s[-1] - self.time_unix_s[0]) if len(self) else 0.0


def predicted_directions(
    observations: AngleObservations,
    position_km: Array,
    velocity_km_s: Array,
    *,
    light_time: bool = True,
) -> Array:
    """Unit vectors ``(..., N, 3)`` from the sensor to objects at GCRS states ``(..., N, 3)``
    (the object's state at each observation time), astrometric if ``light_time``."""
    rel = position_km - observations.observer_gcrs_km
    if light_time:
        drift = velocity_km_s + observations.earth_velocity_km_s
        tau = np.linalg.norm(rel, axis=-1, keepdims=True) / SPEED_OF_LIGHT_KM_S
        seen = rel - drift * tau
        tau = np.linalg.norm(seen, axis=-1, keepdims=True) / SPEED_OF_LIGHT_KM_S
        rel = rel - drift * tau
    return rel / np.linalg.norm(rel, axis=-1, keepdims=True)


def tangent_residuals_arcsec(observations: AngleObservations, predicted_unit: Array) -> Array:
    """Observed minus predicted, ``(..., N, 2)``: ``(dRA cos Dec, dDec)`` in arc-seconds,
    in the gnomonic plane at each observed direction (NaN for a prediction 90 degrees off)."""
    east, north, centre = tangent_basis(observations.ra_deg, observations.dec_deg)
    depth = np.sum(predicted_unit * centre, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(depth > 1e-9, -ARCSEC_PER_RAD / depth, np.nan)
    return np.stack(
        [
            np.sum(predicted_unit * east, axis=-1) * scale,
            np.sum(predicted_unit * north, axis=-1) * scale,
        ],
        axis=-1,
    )


def simulate_observations(
    catalogue: Catalogue,
    norad_id: int,
    sensor: Sensor,
    time_unix_s: ArrayLike,
    sigma_arcsec: float,
    rng: np.random.Generator,
) -> AngleObservations:
    """Astrometric angles of a catalogue object as :func:`~orbitlink.tracking.predict.
    predict_sky` sees it from ``sensor`` (sgp4 of its element set, light time included), with
    independent Gaussian noise of ``sigma_arcsec`` on each tangent-plane axis.

    Whether the object is above the horizon or sunlit is not checked: choose the times.
    """
    index = catalogue.index_of([norad_id])
    if index[0] < 0:
        raise ValueError(f"NORAD {norad_id} is not in the catalogue")
    times = np.atleast_1d(np.asarray(time_unix_s, dtype=float))
    sky = predict_sky(catalogue, sensor, times, index=index)
    if not np.all(sky.valid):
        raise ValueError(f"sgp4 cannot propagate NORAD {norad_id} to every time")
    noise_deg = rng.normal(0.0, sigma_arcsec / ARCSEC_PER_DEG, size=(2, len(times)))
    ra, dec = radec_from_gnomonic(noise_deg[0], noise_deg[1], sky.ra_deg[0], sky.dec_deg[0])
    return AngleObservations.from_sensor(sensor, times, ra, dec, sigma_arcsec)

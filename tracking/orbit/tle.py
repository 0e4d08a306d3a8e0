"""SGP4 mean elements fitted to an orbit or to observations, written as TLE lines and OMM.

A provisional orbit is only useful downstream as an element set that SGP4 reproduces: every
tool (and orbitlink's own correlator) propagates TLEs. :func:`fit_mean_elements` finds such
mean elements in two least-squares steps:

1. from the fitted orbit (:class:`~orbitlink.tracking.orbit.fit.OrbitFit`) sampled over the
   observations and one revolution after the epoch (positions, GCRS), starting from the
   osculating elements in TEME: this turns osculating into mean elements;
2. given the observations, against the angles themselves (differential correction of the
   mean elements, with light time), so that SGP4 of the result reproduces the observed arc
   within its residuals.

The fit works in equinoctial elements (mean motion, ``e`` and ``tan(i/2)`` as vectors,
mean longitude), which stay regular for the near-circular, near-equatorial orbits of GEO.
The epoch is put on the TLE's grid (1e-8 day) first, and B* is fitted only on request (a
track or two cannot see drag; it stays at ``bstar`` otherwise).

:class:`MeanElements` writes the lines (:meth:`MeanElements.tle_lines`, checksums included,
Alpha-5 numbers above 99999) and the OMM record (:meth:`MeanElements.omm`, CelesTrak's JSON
keys), both readable by :func:`~orbitlink.tracking.catalogue.element_set_from_tle` and
:func:`~orbitlink.tracking.catalogue.element_set_from_omm`. The TLE rounds angles to 1e-4
deg (up to 6 m along track at LEO, half a metre of it typical); the OMM keeps full precision.

SGP4 states are TEME; :func:`sgp4_gcrs` rotates them to the GCRS with the library's
:func:`~orbitlink.tracking.predict.frame_rotations`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import Field
from sgp4.alpha5 import to_alpha5
from sgp4.api import WGS72, Satrec, SatrecArray

from ..catalogue import tle_checksum
from ..constants import SECONDS_PER_DAY, UNIX_EPOCH_JD
from ..predict import frame_rotations
from ..settings import Settings
from ..times import jd_from_unix
from ..types import Array
from .angles import AngleObservations, predicted_directions, tangent_residuals_arcsec
from .elements import elements_from_state, period_s
from .fit import OrbitFit
from .leastsq import levenberg_marquardt

__all__ = [
    "MeanElements",
    "MeanElementsFit",
    "TLESettings",
    "fit_mean_elements",
    "sgp4_gcrs",
    "sgp4_residuals_arcsec",
    "tle_epoch_unix_s",
]

WGS72_MU_KM3_S2 = 398600.8  # SGP4's gravity model (WGS72), which TLE mean motions assume
MINUTES_PER_DAY = 1440.0
SGP4_EPOCH_JD = 2433281.5  # sgp4init counts days from 1949 December 31 00:00 UT
TLE_EPOCH_DAY_DIGITS = 8


# ------------------------------------------------------------------------------ propagation


def sgp4_gcrs(satrecs: Sequence[Satrec], time_unix_s: ArrayLike) -> tuple[NDArray, Array, Array]:
    """SGP4 of ``K`` element sets at ``T`` times, in the GCRS: ``(error (K, T), r (K, T, 3),
    v (K, T, 3))`` in km and km/s; rows with an sgp4 error are NaN."""
    times = np.atleast_1d(np.asarray(time_unix_s, dtype=float))
    error, r, v = SatrecArray(list(satrecs)).sgp4(*jd_from_unix(times))
    teme_to_gcrs, _ = frame_rotations(times)
    r = np.einsum("tij,ktj->kti", teme_to_gcrs, r)
    v = np.einsum("tij,ktj->kti", teme_to_gcrs, v)
    bad = error != 0
    r[bad], v[bad] = np.nan, np.nan
    return error, r, v


def sgp4_residuals_arcsec(
    satrec: Satrec, observations: AngleObservations, *, light_time: bool = True
) -> Array:
    """Residuals ``(N, 2)`` (arc-seconds, observed minus SGP4) of one element set."""
    _, r, v = sgp4_gcrs([satrec], observations.time_unix_s)
    unit = predicted_directions(observations, r[0], v[0], light_time=light_time)
    return tangent_residuals_arcsec(observations, unit)


# ------------------------------------------------------------------------------ the elements


def tle_epoch_unix_s(time_unix_s: float) -> float:
    """The nearest instant a TLE epoch can name (day of year to 8 decimals)."""
    moment = datetime.fromtimestamp(float(time_unix_s), UTC)
    new_year = datetime(moment.year, 1, 1, tzinfo=UTC).timestamp()
    days = round((float(time_unix_s) - new_year) / SECONDS_PER_DAY, TLE_EPOCH_DAY_DIGITS)
    return new_year + days * SECONDS_PER_DAY


def _exponent_field(value: float) -> str:
    """A TLE 'assumed decimal point' field: ``" 12345-3"`` is 0.12345e-3 (8 columns)."""
    if value == 0.0:
        return " 00000+0"
    sign = "-" if value < 0 else " "
    exponent = math.floor(math.log10(abs(value))) + 1
    mantissa = round(abs(value) / 10.0**exponent * 1e5)
    if mantissa >= 100000:  # rounding carried into a new digit
        mantissa //= 10
        exponent += 1
    if not -9 <= exponent <= 9:
        raise ValueError(f"{value!r} does not fit a TLE exponent field")
    return f"{sign}{mantissa:05d}{'-' if exponent < 0 else '+'}{abs(exponent)}"


def _angle_field(degrees: float) -> str:
    text = f"{degrees % 360.0:8.4f}"
    return "  0.0000" if text == "360.0000" else text


def _exponent_value(field: str) -> float:
    """The number an exponent field holds (the inverse of :func:`_exponent_field`)."""
    mantissa = int(field[1:6]) * (-1 if field[0] == "-" else 1)
    return mantissa * 1e-5 * 10.0 ** int(field[6:8])


@dataclass(frozen=True)
class MeanElements:
    """SGP4 (Kozai) mean elements at ``epoch_unix_s``, in TEME, as a TLE holds them.

    ``mean_motion_dot`` and ``mean_motion_ddot`` are the TLE's fields (rev/day^2 and
    rev/day^3, by the old convention half and a sixth of the derivatives); SGP4 ignores both.
    """

    epoch_unix_s: float
    mean_motion_rev_day: float
    eccentricity: float
    inclination_deg: float
    raan_deg: float
    arg_perigee_deg: float
    mean_anomaly_deg: float
    bstar_per_earth_radius: float = 0.0
    mean_motion_dot: float = 0.0
    mean_motion_ddot: float = 0.0

    @classmethod
    def from_satrec(cls, satrec: Satrec) -> MeanElements:
        epoch = (satrec.jdsatepoch - UNIX_EPOCH_JD + satrec.jdsatepochF) * SECONDS_PER_DAY
        rev_day = MINUTES_PER_DAY / (2.0 * math.pi)
        return cls(
            epoch_unix_s=epoch,
            mean_motion_rev_day=satrec.no_kozai * rev_day,
            eccentricity=satrec.ecco,
            inclination_deg=math.degrees(satrec.inclo),
            raan_deg=math.degrees(satrec.nodeo),
            arg_perigee_deg=math.degrees(satrec.argpo),
            mean_anomaly_deg=math.degrees(satrec.mo),
            bstar_per_earth_radius=satrec.bstar,
            mean_motion_dot=satrec.ndot * rev_day * MINUTES_PER_DAY,
            mean_motion_ddot=satrec.nddot * rev_day * MINUTES_PER_DAY**2,
        )

    def satrec(self, norad_id: int = 0) -> Satrec:
        """An initialised :class:`sgp4.api.Satrec` (WGS72, improved mode, as for a TLE)."""
        rev_day = MINUTES_PER_DAY / (2.0 * math.pi)
        satrec = Satrec()
        satrec.sgp4init(
            WGS72,
            "i",
            int(norad_id),
            self.epoch_unix_s / SECONDS_PER_DAY + (UNIX_EPOCH_JD - SGP4_EPOCH_JD),
            self.bstar_per_earth_radius,
            self.mean_motion_dot / (rev_day * MINUTES_PER_DAY),
            self.mean_motion_ddot / (rev_day * MINUTES_PER_DAY**2),
            self.eccentricity,
            math.radians(self.arg_perigee_deg),
            math.radians(self.inclination_deg),
            math.radians(self.mean_anomaly_deg),
            self.mean_motion_rev_day / rev_day,
            math.radians(self.raan_deg),
        )
        # sgp4init sums the epoch into one Julian date (40 us of rounding); propagation
        # counts time from this split pair, so give it the exact one.
        whole, fraction = jd_from_unix(self.epoch_unix_s)
        satrec.jdsatepoch, satrec.jdsatepochF = float(whole), float(fraction)
        return satrec

    def tle_lines(
        self,
        norad_id: int,
        *,
        classification: str = "U",
        international_designator: str = "",
        element_set_number: int = 999,
        revolution_number: int = 0,
    ) -> tuple[str, str]:
        """The two TLE lines. ``norad_id`` up to 339999 (Alpha-5 above 99999), e.g. a
        provisional number; ``international_designator`` as in the TLE (``"26123A"``)."""
        if not 0 <= int(norad_id) <= 339999:
            raise ValueError(f"a TLE catalogue number is 0-339999, not {norad_id}")
        if len(international_designator) > 8 or len(classification) != 1:
            raise ValueError("classification is one character, the designator at most eight")
        if not 0.0 <= self.eccentricity < 1.0:
            raise ValueError(f"eccentricity {self.eccentricity} does not fit a TLE")
        number = to_alpha5(int(norad_id))
        moment = datetime.fromtimestamp(self.epoch_unix_s, UTC)
        new_year = datetime(moment.year, 1, 1, tzinfo=UTC).timestamp()
        day = (self.epoch_unix_s - new_year) / SECONDS_PER_DAY + 1.0
        epoch = f"{moment.year % 100:02d}{day:012.8f}"
        ndot = f"{self.mean_motion_dot:.8f}".replace("0.", ".", 1)
        line1 = (
            f"1 {number}{classification} {international_designator:<8} {epoch} "
            f"{ndot:>10} {_exponent_field(self.mean_motion_ddot)} "
            f"{_exponent_field(self.bstar_per_earth_radius)} 0 {element_set_number % 10000:4d}"
        )
        eccentricity = f"{round(self.eccentricity * 1e7):07d}"
        if len(eccentricity) != 7:
            eccentricity = "9999999"
        line2 = (
            f"2 {number} {self.inclination_deg:8.4f} {_angle_field(self.raan_deg)} "
            f"{eccentricity} {_angle_field(self.arg_perigee_deg)} "
            f"{_angle_field(self.mean_anomaly_deg)} {self.mean_motion_rev_day:11.8f}"
            f"{revolution_number % 100000:5d}"
        )
        return line1 + str(tle_checksum(line1)), line2 + str(tle_checksum(line2))

    def omm(
        self,
        norad_id: int,
        *,
        name: str = "",
        object_id: str = "",
        classification: str = "U",
        element_set_number: int = 999,
        revolution_number: int = 0,
    ) -> dict[str, Any]:
        """An OMM record with CelesTrak's JSON keys (and the CCSDS frame keys), full
        precision; ``object_id`` is the COSPAR designator (``"2026-123A"``) if any."""
        epoch = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
            microseconds=round(self.epoch_unix_s * 1e6)
        )
        return {
            "OBJECT_NAME": name,
            "OBJECT_ID": object_id,
            "CENTER_NAME": "EARTH",
            "REF_FRAME": "TEME",
            "TIME_SYSTEM": "UTC",
            "MEAN_ELEMENT_THEORY": "SGP4",
            "EPOCH": epoch.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "MEAN_MOTION": self.mean_motion_rev_day,
            "ECCENTRICITY": self.eccentricity,
            "INCLINATION": self.inclination_deg,
            "RA_OF_ASC_NODE": self.raan_deg % 360.0,
            "ARG_OF_PERICENTER": self.arg_perigee_deg % 360.0,
            "MEAN_ANOMALY": self.mean_anomaly_deg % 360.0,
            "EPHEMERIS_TYPE": 0,
            "CLASSIFICATION_TYPE": classification,
            "NORAD_CAT_ID": int(norad_id),
            "ELEMENT_SET_NO": int(element_set_number),
            "REV_AT_EPOCH": int(revolution_number),
            "BSTAR": self.bstar_per_earth_radius,
            "MEAN_MOTION_DOT": self.mean_motion_dot,
            "MEAN_MOTION_DDOT": self.mean_motion_ddot,
        }


# ------------------------------------------------------------------------------ the fitting

# Parameters: mean motion (rad/min), h = e sin(w + O), k = e cos(w + O), p = tan(i/2) sin O,
# q = tan(i/2) cos O, mean longitude M + w + O (rad), and B* when fitted.
_STEPS = np.array([1e-9, 1e-7, 1e-7, 1e-7, 1e-7, 1e-7, 1e-6])


def _parameters(elements: MeanElements) -> Array:
    node = math.radians(elements.raan_deg)
    perigee = node + math.radians(elements.arg_perigee_deg)
    tilt = math.tan(0.5 * math.radians(elements.inclination_deg))
    e = elements.eccentricity
    return np.array(
        [
            elements.mean_motion_rev_day * 2.0 * math.pi / MINUTES_PER_DAY,
            e * math.sin(perigee),
            e * math.cos(perigee),
            tilt * math.sin(node),
            tilt * math.cos(node),
            perigee + math.radians(elements.mean_anomaly_deg),
            elements.bstar_per_earth_radius,
        ]
    )


def _elements(parameters: Array, template: MeanElements) -> MeanElements:
    n, h, k, p, q, longitude = parameters[:6]
    node = math.atan2(p, q)
    perigee = math.atan2(h, k)
    return replace(
        template,
        mean_motion_rev_day=n * MINUTES_PER_DAY / (2.0 * math.pi),
        eccentricity=math.hypot(h, k),
        inclination_deg=math.degrees(2.0 * math.atan(math.hypot(p, q))),
        raan_deg=math.degrees(node) % 360.0,
        arg_perigee_deg=math.degrees(perigee - node) % 360.0,
        mean_anomaly_deg=math.degrees(longitude - perigee) % 360.0,
        bstar_per_earth_radius=float(parameters[6])
        if len(parameters) > 6
        else template.bstar_per_earth_radius,
    )


def _satrecs(parameters: Array, template: MeanElements) -> list[Satrec] | None:
    satrecs = []
    for row in parameters:
        elements = _elements(row, template)
        if not (0.0 <= elements.eccentricity < 1.0 and elements.mean_motion_rev_day > 0.0):
            return None
        satrec = elements.satrec()
        if satrec.error:
            return None
        satrecs.append(satrec)
    return satrecs


def _tle_grid_candidates(elements: MeanElements) -> list[MeanElements]:
    """The TLE-representable element sets around ``elements``: each angle and the
    eccentricity rounded down or up (32 sets); mean motion, B* and the derivatives rounded
    to their fields' digits."""
    base = replace(
        elements,
        mean_motion_rev_day=round(elements.mean_motion_rev_day, 8),
        bstar_per_earth_radius=_exponent_value(_exponent_field(elements.bstar_per_earth_radius)),
        mean_motion_dot=round(elements.mean_motion_dot, 8),
        mean_motion_ddot=_exponent_value(_exponent_field(elements.mean_motion_ddot)),
    )
    names = ("inclination_deg", "raan_deg", "arg_perigee_deg", "mean_anomaly_deg")
    values = [
        getattr(elements, name) % (180.0 if name == "inclination_deg" else 360.0) for name in names
    ]
    low = [math.floor(value * 1e4) / 1e4 for value in values]
    e_low = math.floor(elements.eccentricity * 1e7) / 1e7
    candidates = []
    for choice in range(32):
        picks = {
            name: round(low[j] + 1e-4 * ((choice >> j) & 1), 4) for j, name in enumerate(names)
        }
        eccentricity = round(e_low + 1e-7 * ((choice >> 4) & 1), 7)
        candidates.append(replace(base, eccentricity=eccentricity, **picks))
    return candidates


class TLESettings(Settings):
    """How :func:`fit_mean_elements` fits SGP4 mean elements."""

    fit_bstar: bool = Field(
        False,
        description="Fit B* too: only observations over days of a low orbit show drag; "
        "otherwise B* stays as given (0: no drag).",
    )
    bstar_per_earth_radius: float = Field(
        0.0, description="B* to start from, or to keep when it is not fitted."
    )
    samples_per_revolution: int = Field(
        24, ge=4, description="Samples of the fitted orbit per revolution in the first step."
    )
    max_samples: int = Field(
        2000, ge=10, description="Most samples of the fitted orbit in the first step."
    )
    max_iterations: int = Field(50, ge=1, description="Iterations at most, per step.")
    light_time: bool = Field(True, description="Model light time against the observations.")


@dataclass(frozen=True)
class MeanElementsFit:
    """Fitted SGP4 mean elements and how well SGP4 reproduces the orbit and observations.

    ``elements`` are the fitted values, at full precision (what the OMM carries);
    ``tle_elements`` the set of TLE-representable values around them that SGP4 fits best
    (angles to 1e-4 deg and eccentricity to 1e-7, each rounded down or up as fits best,
    rather than each to nearest). ``trajectory_rms_km`` is SGP4's RMS distance from the
    fitted orbit's samples; ``residuals_arcsec``/``rms_arcsec`` are the observations'
    residuals against ``elements`` and ``tle_rms_arcsec`` against ``tle_elements`` (None
    without observations). ``covariance`` is the formal covariance of the equinoctial
    parameters (mean motion rad/min, h, k, p, q, mean longitude rad, and B* if fitted) from
    the last step (for position weights of 1 km when there are no observations).
    """

    elements: MeanElements
    tle_elements: MeanElements
    trajectory_rms_km: float
    residuals_arcsec: Array | None
    rms_arcsec: float | None
    tle_rms_arcsec: float | None
    covariance: Array
    converged: bool
    message: str

    def tle_lines(self, norad_id: int, **fields: Any) -> tuple[str, str]:
        """:meth:`MeanElements.tle_lines` of ``tle_elements``."""
        return self.tle_elements.tle_lines(norad_id, **fields)

    def omm(self, norad_id: int, **fields: Any) -> dict[str, Any]:
        """:meth:`MeanElements.omm` of the full-precision ``elements``."""
        return self.elements.omm(norad_id, **fields)


def _trajectory_times(
    orbit: OrbitFit, observations: AngleObservations | None, epoch: float, settings: TLESettings
) -> Array:
    period = float(period_s(orbit.elements().semi_major_axis_km))
    start, stop = epoch, epoch + (period if np.isfinite(period) else 3600.0)
    if observations is not None and len(observations):
        start = min(start, float(observations.time_unix_s[0]))
        stop = max(stop, float(observations.time_unix_s[-1]))
    revolutions = (stop - start) / period if np.isfinite(period) else 1.0
    count = int(np.clip(revolutions * settings.samples_per_revolution, 10, settings.max_samples))
    return np.linspace(start, stop, count)


def fit_mean_elements(
    orbit: OrbitFit,
    observations: AngleObservations | None = None,
    settings: TLESettings = TLESettings(),
) -> MeanElementsFit:
    """SGP4 mean elements for a fitted orbit, refined against ``observations`` if given
    (see the module docstring). Raises ``ValueError`` for an unbound orbit."""
    if not float(orbit.elements().eccentricity) < 1.0:
        raise ValueError("only a bound orbit has mean elements")
    epoch = tle_epoch_unix_s(orbit.epoch_unix_s)
    r_epoch, v_epoch, _ = orbit.predict([epoch])
    teme_to_gcrs, _ = frame_rotations(np.array([epoch]))
    r_teme, v_teme = r_epoch[0] @ teme_to_gcrs[0], v_epoch[0] @ teme_to_gcrs[0]
    osculating = elements_from_state(r_teme, v_teme, WGS72_MU_KM3_S2)
    a = float(osculating.semi_major_axis_km)
    template = MeanElements(
        epoch_unix_s=epoch,
        mean_motion_rev_day=math.sqrt(WGS72_MU_KM3_S2 / a**3) * SECONDS_PER_DAY / (2 * math.pi),
        eccentricity=float(osculating.eccentricity),
        inclination_deg=float(osculating.inclination_deg),
        raan_deg=float(osculating.raan_deg),
        arg_perigee_deg=float(osculating.arg_perigee_deg),
        mean_anomaly_deg=float(osculating.mean_anomaly_deg),
        bstar_per_earth_radius=settings.bstar_per_earth_radius,
    )
    size = 7 if settings.fit_bstar else 6
    x0 = _parameters(template)[:size]

    # Step 1: the fitted orbit's positions.
    times = _trajectory_times(orbit, observations, epoch, settings)
    target, _, _ = orbit.predict(times)

    def trajectory_residuals(parameters: Array) -> Array:
        satrecs = _satrecs(parameters, template)
        if satrecs is None:
            return np.full((len(parameters), target.size), np.nan)
        _, r, _ = sgp4_gcrs(satrecs, times)
        return (r - target).reshape(len(parameters), -1)

    first = levenberg_marquardt(
        trajectory_residuals, x0, _STEPS[:size], max_iterations=settings.max_iterations
    )
    if observations is None:
        elements = _elements(first.x, template)
        candidates = _tle_grid_candidates(elements)
        _, r, _ = sgp4_gcrs([elements.satrec()] + [c.satrec() for c in candidates], times)
        distance = np.sqrt(np.mean(np.sum((r - target) ** 2, axis=2), axis=1))
        best = int(np.nanargmin(distance[1:]))
        return MeanElementsFit(
            elements=elements,
            tle_elements=candidates[best],
            trajectory_rms_km=float(distance[0]),
            residuals_arcsec=None,
            rms_arcsec=None,
            tle_rms_arcsec=None,
            covariance=first.covariance,
            converged=first.converged,
            message=first.message,
        )

    # Step 2: the observations themselves.
    weights = 1.0 / observations.sigma_arcsec[:, None]

    def angles_of(satrecs: list[Satrec]) -> Array:
        _, r, v = sgp4_gcrs(satrecs, observations.time_unix_s)
        unit = predicted_directions(observations, r, v, light_time=settings.light_time)
        return tangent_residuals_arcsec(observations, unit)

    def angle_residuals(parameters: Array) -> Array:
        satrecs = _satrecs(parameters, template)
        if satrecs is None:
            return np.full((len(parameters), 2 * len(observations)), np.nan)
        return (angles_of(satrecs) * weights).reshape(len(parameters), -1)

    second = levenberg_marquardt(
        angle_residuals, first.x, _STEPS[:size], max_iterations=settings.max_iterations
    )
    elements = _elements(second.x, template)
    candidates = _tle_grid_candidates(elements)
    residuals = angles_of([elements.satrec()] + [c.satrec() for c in candidates])
    chi2 = np.nansum((residuals * weights) ** 2, axis=(1, 2))
    best = 1 + int(np.argmin(chi2[1:]))
    _, r, _ = sgp4_gcrs([elements.satrec()], times)
    return MeanElementsFit(
        elements=elements,
        tle_elements=candidates[best - 1],
        trajectory_rms_km=float(np.sqrt(np.mean(np.sum((r[0] - target) ** 2, axis=1)))),
        residuals_arcsec=residuals[0],
        rms_arcsec=float(np.sqrt(np.mean(residuals[0] ** 2))),
        tle_rms_arcsec=float(np.sqrt(np.mean(residuals[best] ** 2))),
        covariance=second.covariance,
        converged=first.converged and second.converged,
        message=second.message,
    )

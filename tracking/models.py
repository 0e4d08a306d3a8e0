"""The records orbitlink reads and writes.

Every message on the wire and every line of a replay file is one of these pydantic models,
serialised as a flat JSON object. Angles are degrees, angular rates degrees per second,
uncertainties arc-seconds (1 sigma), times UTC.

Conventions used throughout the project:

* RA/Dec are topocentric astrometric coordinates in the ICRS (J2000) frame, as seen by the
  sensor that took the frame.
* ``ra_rate_deg_s`` is the great-circle rate along the RA direction, ``dRA/dt * cos(Dec)``;
  ``dec_rate_deg_s`` is ``dDec/dt``. Both are therefore true angular rates on the sky.
* Track covariances are 4x4 over ``(xi, eta, xi_rate, eta_rate)`` in the gnomonic tangent
  plane centred on the track position, with xi towards +RA and eta towards +Dec, in
  deg^2, deg^2/s and deg^2/s^2.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .types import TrackStatus

__all__ = [
    "Alert",
    "AlertKind",
    "AlertState",
    "Association",
    "Detection",
    "FieldOfView",
    "Frame",
    "Sensor",
    "TrackStatus",
    "TrackUpdate",
    "ValidationError",
    "format_time",
    "parse_time",
]


def parse_time(value: str | datetime) -> datetime:
    """Return a timezone-aware UTC datetime from an ISO-8601 string or a datetime.

    A string or datetime without a zone is taken as UTC; one with a zone is converted.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not an ISO-8601 time: {value!r}") from None
    else:
        raise ValueError(f"not an ISO-8601 time: {value!r}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """ISO-8601 UTC with microseconds and a ``Z`` suffix: ``2026-05-31T01:02:03.000000Z``."""
    # The year by hand: strftime's %Y does not pad years before 1000 on every platform.
    moment = parse_time(value)
    return f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S.%fZ")


class _Record(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="ignore", frozen=False)

    def to_json(self) -> str:
        """The wire form: compact JSON, every field present (nulls included)."""
        return self.model_dump_json(exclude_none=False)


class _TimedRecord(_Record):
    time: datetime

    @field_validator("time", mode="before")
    @classmethod
    def _parse_time(cls, value: object) -> datetime:
        return parse_time(value)  # type: ignore[arg-type]

    @field_serializer("time")
    def _serialise_time(self, value: datetime) -> str:
        return format_time(value)


class Sensor(_Record):
    """An optical sensor: a ground site (WGS84) or a camera on a satellite (its TLE).

    Exactly one of the two positions is given: ``lat_deg``/``lon_deg``/``alt_m`` for a ground
    site, or ``tle`` (the two element lines) for a space-based sensor.
    """

    sensor_id: str = Field(min_length=1)
    lat_deg: float | None = Field(default=None, ge=-90.0, le=90.0)
    lon_deg: float | None = Field(default=None, ge=-180.0, le=360.0)
    alt_m: float | None = Field(default=None, ge=-500.0, le=100_000.0)
    tle: list[str] | None = None
    fov_radius_deg: float | None = Field(default=None, gt=0.0, le=180.0)
    sigma_arcsec: float = Field(default=5.0, gt=0.0)
    name: str | None = None

    @field_validator("tle")
    @classmethod
    def _check_tle(cls, lines: list[str] | None) -> list[str] | None:
        if lines is None:
            return None
        lines = [line.rstrip() for line in lines if line.strip()]
        if len(lines) == 3:  # a name line in front is allowed and dropped
            lines = lines[1:]
        if len(lines) != 2 or not lines[0].startswith("1 ") or not lines[1].startswith("2 "):
            raise ValueError("tle must be the two element lines, starting '1 ' and '2 '")
        # Checked as any element set (lengths, checksums, sgp4 accepts them) when the sensor
        # arrives, not at its first frame. Imported here: the catalogue imports this module.
        from .catalogue import element_set_from_tle
        from .errors import CatalogueError

        try:
            element_set_from_tle("", lines[0], lines[1], where="sensor tle")
        except CatalogueError as error:
            raise PydanticCustomError("tle_invalid", "{reason}", {"reason": error.reason}) from None
        return lines

    @model_validator(mode="after")
    def _one_position(self) -> Sensor:
        ground = [self.lat_deg, self.lon_deg]
        if self.tle is not None:
            if any(v is not None for v in ground):
                raise ValueError("a sensor has either lat_deg/lon_deg/alt_m or tle, not both")
        elif any(v is None for v in ground):
            raise ValueError(
                "a ground sensor needs lat_deg and lon_deg (and alt_m), "
                "a space-based sensor needs tle"
            )
        elif self.alt_m is None:
            self.alt_m = 0.0
        return self

    @property
    def is_space_based(self) -> bool:
        return self.tle is not None


class FieldOfView(_Record):
    """Centre and radius of a frame's field of view."""

    ra_deg: float = Field(ge=0.0, lt=360.0)
    dec_deg: float = Field(ge=-90.0, le=90.0)
    radius_deg: float = Field(gt=0.0, le=180.0)


class Detection(_Record):
    """One detection in a frame: an astrometric position with its uncertainty and brightness."""

    det_id: str | None = None
    ra_deg: float = Field(ge=0.0, lt=360.0)
    dec_deg: float = Field(ge=-90.0, le=90.0)
    sigma_arcsec: float | None = Field(default=None, gt=0.0)
    mag: float | None = None

    @field_validator("ra_deg", mode="before")
    @classmethod
    def _wrap_ra(cls, value: object) -> object:
        # 360.0 and small negative values are the same direction; anything else must be in range.
        # bool is an int to Python but no angle: it is left for the float check to refuse.
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and -360.0 < value <= 360.0
        ):
            return float(value) % 360.0
        return value


class Frame(_TimedRecord):
    """One exposure of one sensor and the detections found in it.

    ``time`` is mid-exposure. ``sensor`` may carry the sensor definition inline, which is how a
    frame from a sensor unknown to the engine is made self-describing.
    """

    frame_id: str = Field(min_length=1)
    sensor_id: str = Field(min_length=1)
    exposure_s: float = Field(default=0.0, ge=0.0)
    fov: FieldOfView | None = None
    sensor: Sensor | None = None
    detections: list[Detection] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fill_and_check(self) -> Frame:
        if self.sensor is not None and self.sensor.sensor_id != self.sensor_id:
            raise ValueError(
                f"sensor.sensor_id {self.sensor.sensor_id!r} differs from "
                f"sensor_id {self.sensor_id!r}"
            )
        seen: set[str] = set()
        for index, detection in enumerate(self.detections):
            if detection.det_id is None:
                detection.det_id = f"{self.frame_id}:{index}"
            if detection.det_id in seen:
                raise ValueError(f"detections[{index}].det_id {detection.det_id!r} is repeated")
            seen.add(detection.det_id)
        return self


class TrackUpdate(_TimedRecord):
    """The state of one track after one frame of its sensor."""

    track_id: str
    sensor_id: str
    frame_id: str | None = None
    status: TrackStatus
    ra_deg: float
    dec_deg: float
    ra_rate_deg_s: float
    dec_rate_deg_s: float
    covariance: list[list[float]]
    n_updates: int = Field(ge=0)
    n_missed: int = Field(default=0, ge=0)
    det_id: str | None = None

    @field_validator("covariance")
    @classmethod
    def _four_by_four(cls, value: list[list[float]]) -> list[list[float]]:
        if len(value) != 4 or any(len(row) != 4 for row in value):
            raise ValueError("covariance must be 4x4")
        return value


class Association(_TimedRecord):
    """What the correlator concluded about one track at one frame.

    ``norad_id`` is the catalogue object the track was correlated with, or null with
    ``uct = true`` when no catalogue object explains it better than an uncatalogued object
    would. Residuals are track minus prediction, as the object's hypothesis fits them to the
    track's whole arc at this frame: ``cross_track_arcsec`` across the object's predicted
    path, ``along_track_s`` the time shift along it (positive: the object is late; null for a
    near-stationary object, whose offset is an angle), and ``rate_residual`` the fractional
    difference of angular speed. ``score`` is ``-2 log`` of the likelihood ratio of the object
    against the uncatalogued-object hypothesis (lower is better), ``confidence`` the verdict's
    posterior probability and ``arc_detections`` the number of detections the evidence holds
    (see docs/correlation.md).
    """

    track_id: str
    sensor_id: str
    frame_id: str | None = None
    norad_id: int | None = None
    name: str | None = None
    uct: bool
    cross_track_arcsec: float | None = None
    along_track_s: float | None = None
    direction_residual_deg: float | None = None
    rate_residual: float | None = None
    score: float | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    ambiguous: bool = False
    runner_up_norad_id: int | None = None
    runner_up_score: float | None = None
    element_epoch: datetime | None = None
    element_age_days: float | None = None
    n_candidates: int = Field(default=0, ge=0)
    arc_detections: int = Field(default=0, ge=0)

    @field_serializer("element_epoch")
    def _serialise_epoch(self, value: datetime | None) -> str | None:
        return None if value is None else format_time(value)

    @model_validator(mode="after")
    def _uct_has_no_object(self) -> Association:
        if self.uct and self.norad_id is not None:
            raise ValueError("an uncorrelated track (uct) has no norad_id")
        if not self.uct and self.norad_id is None:
            raise ValueError("a correlated track needs a norad_id")
        return self


#: What an alert is about (docs/monitoring.md describes each).
AlertKind = Literal[
    "filter_overconfident",
    "filter_underconfident",
    "uct_rate_jump",
    "along_track_drift",
    "cross_track_drift",
    "stale_elements",
    "catalogue_silent",
]
AlertState = Literal["firing", "resolved"]


class Alert(_Record):
    """A model-monitoring alert: a statistic of one sensor's records outside its bounds.

    One record with ``state = "firing"`` when the condition starts and one with ``state =
    "resolved"`` when it ends, both with the same ``kind``, ``sensor_id`` and ``first_time``
    (the frame time at which it started); ``last_time`` is the frame time of the record
    (the latest time the condition held, or the time it cleared). ``statistic`` is the value
    of the statistic named by ``statistic_name`` over the window, ``threshold`` the bound it
    crossed (or came back within); ``baseline`` is the value of the baseline window for the
    drift alerts. ``sensor_id`` is null for alerts about the whole service (the catalogue
    topic).
    """

    kind: AlertKind
    sensor_id: str | None
    state: AlertState
    statistic_name: str
    statistic: float
    threshold: float
    baseline: float | None = None
    window_frames: int = Field(ge=0)
    window_samples: int = Field(ge=0)
    message: str
    first_time: datetime
    last_time: datetime

    @field_validator("first_time", "last_time", mode="before")
    @classmethod
    def _parse_times(cls, value: object) -> datetime:
        return parse_time(value)  # type: ignore[arg-type]

    @field_serializer("first_time", "last_time")
    def _serialise_times(self, value: datetime) -> str:
        return format_time(value)

    @property
    def key(self) -> str:
        """The message key: one alert's records share it (``kind/sensor_id``)."""
        return f"{self.kind}/{self.sensor_id or '*'}"

"""Tracklets: what a finished UCT track hands to the linker.

When a track ends (the tracker deletes it) and the correlator's last verdict on it was UCT
(no catalogue object fits), its observations become a :class:`Tracklet`: up to a few
detections spread over the whole pass (the tracker's "arc" of the track), the sensor that saw
them (inline, so the record is self-describing, like a frame with its sensor), the track id
and what the correlator last said. The linker (:mod:`.linking`) turns tracklets into
provisional objects.

A tracklet is a flat JSON record like the others in :mod:`.models` (times ISO-8601 UTC,
angles degrees, sigmas arc-seconds, 1 sigma per tangent-plane axis). Times are kept to the
microsecond, as every record's are, so a tracklet read back from its JSON is the same
tracklet: the linker gives the same answer offline and in the stream.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from numpy.typing import ArrayLike
from pydantic import Field, field_serializer, field_validator, model_validator

from .models import Association, Sensor, _Record, format_time, parse_time
from .orbit.angles import AngleObservations
from .times import datetime_from_unix, unix_from_datetime
from .types import Array

__all__ = ["MIN_TRACKLET_DETECTIONS", "Tracklet"]

#: Fewest detections a tracklet has: three directions are the least that give an attributable
#: (position, rate and curvature of the arc).
MIN_TRACKLET_DETECTIONS = 3


class Tracklet(_Record):
    """The observations of one finished UCT track, for the linker.

    ``times``, ``ra_deg``, ``dec_deg`` and ``sigma_arcsec`` are parallel lists in time order
    (astrometric ICRS RA/Dec as the sensor measured them). ``first_time``/``last_time`` are the
    track's first and last detections (the listed ones are a selection of the track's
    detections and lie between them); ``n_detections`` is how many the track had.
    ``confidence``, ``runner_up_norad_id`` and ``runner_up_score`` are the correlator's last
    verdict on the track (a UCT verdict: no ``norad_id``); ``runner_up_norad_id`` is the
    nearest catalogue object it considered, if any.
    """

    track_id: str = Field(min_length=1)
    sensor_id: str = Field(min_length=1)
    sensor: Sensor
    times: list[datetime] = Field(min_length=MIN_TRACKLET_DETECTIONS)
    ra_deg: list[float]
    dec_deg: list[float]
    sigma_arcsec: list[float]
    first_time: datetime
    last_time: datetime
    n_detections: int = Field(ge=MIN_TRACKLET_DETECTIONS)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    runner_up_norad_id: int | None = None
    runner_up_score: float | None = None

    @field_validator("times", mode="before")
    @classmethod
    def _parse_times(cls, value: object) -> object:
        if isinstance(value, (list, tuple)):
            return [parse_time(item) for item in value]  # type: ignore[arg-type]
        return value

    @field_validator("first_time", "last_time", mode="before")
    @classmethod
    def _parse_time(cls, value: object) -> datetime:
        return parse_time(value)  # type: ignore[arg-type]

    @field_serializer("times")
    def _serialise_times(self, value: list[datetime]) -> list[str]:
        return [format_time(item) for item in value]

    @field_serializer("first_time", "last_time")
    def _serialise_time(self, value: datetime) -> str:
        return format_time(value)

    @model_validator(mode="after")
    def _consistent(self) -> Tracklet:
        n = len(self.times)
        for name in ("ra_deg", "dec_deg", "sigma_arcsec"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} values, times has {n}")
        if any(later < earlier for earlier, later in zip(self.times, self.times[1:])):
            raise ValueError("times must be in time order")
        if not all(0.0 <= ra < 360.0 for ra in self.ra_deg):
            raise ValueError("every ra_deg must be in [0, 360)")
        if not all(-90.0 <= dec <= 90.0 for dec in self.dec_deg):
            raise ValueError("every dec_deg must be in [-90, 90]")
        if not all(sigma > 0.0 for sigma in self.sigma_arcsec):
            raise ValueError("every sigma_arcsec must be positive")
        if self.sensor.sensor_id != self.sensor_id:
            raise ValueError(
                f"sensor.sensor_id {self.sensor.sensor_id!r} differs from sensor_id "
                f"{self.sensor_id!r}"
            )
        if not self.first_time <= self.times[0] <= self.times[-1] <= self.last_time:
            raise ValueError("first_time and last_time must bracket the times")
        if self.n_detections < n:
            raise ValueError(f"n_detections {self.n_detections} is below the {n} listed")
        return self

    @classmethod
    def from_arrays(
        cls,
        track_id: str,
        sensor: Sensor,
        time_unix_s: ArrayLike,
        ra_deg: ArrayLike,
        dec_deg: ArrayLike,
        sigma_arcsec: ArrayLike | float | None = None,
        *,
        first_time_unix_s: float | None = None,
        last_time_unix_s: float | None = None,
        n_detections: int | None = None,
        verdict: Association | None = None,
    ) -> Tracklet:
        """A tracklet from arrays (Unix seconds, degrees, arc-seconds), sorted by time.

        ``sigma_arcsec`` defaults to the sensor's; the first and last times default to the
        listed ones, ``n_detections`` to their number; ``verdict`` is the correlator's last
        association of the track (its confidence and runner-up are kept).
        """
        times = np.atleast_1d(np.asarray(time_unix_s, dtype=float))
        order = np.argsort(times, kind="stable")
        if sigma_arcsec is None:
            sigma_arcsec = sensor.sigma_arcsec
        sigma = np.broadcast_to(np.asarray(sigma_arcsec, dtype=float), times.shape)
        stamps = [datetime_from_unix(float(t)) for t in times[order]]
        return cls(
            track_id=track_id,
            sensor_id=sensor.sensor_id,
            sensor=sensor,
            times=stamps,
            ra_deg=[float(x) % 360.0 for x in np.asarray(ra_deg, dtype=float)[order]],
            dec_deg=[float(x) for x in np.asarray(dec_deg, dtype=float)[order]],
            sigma_arcsec=[float(x) for x in sigma[order]],
            first_time=stamps[0]
            if first_time_unix_s is None
            else datetime_from_unix(first_time_unix_s),
            last_time=stamps[-1]
            if last_time_unix_s is None
            else datetime_from_unix(last_time_unix_s),
            n_detections=len(times) if n_detections is None else n_detections,
            confidence=None if verdict is None else verdict.confidence,
            runner_up_norad_id=None if verdict is None else verdict.runner_up_norad_id,
            runner_up_score=None if verdict is None else verdict.runner_up_score,
        )

    @property
    def time_unix_s(self) -> Array:
        """The listed times as Unix seconds (UTC)."""
        return np.array([unix_from_datetime(t) for t in self.times])

    @property
    def first_time_unix_s(self) -> float:
        return unix_from_datetime(self.first_time)

    @property
    def last_time_unix_s(self) -> float:
        return unix_from_datetime(self.last_time)

    def observations(self) -> AngleObservations:
        """The tracklet as angle observations (the sensor's state at every time filled in)."""
        return AngleObservations.from_sensor(
            self.sensor, self.time_unix_s, self.ra_deg, self.dec_deg, self.sigma_arcsec
        )

"""The confirmed tracks of one frame, validated and stacked as arrays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..batches import TrackBatch
from ..constants import ARCSEC_PER_DEG
from ..models import Sensor, TrackUpdate
from ..sky import tangent_basis
from ..times import unix_from_datetime
from ..types import Array

__all__ = ["FrameTracks", "frame_tracks"]


@dataclass(frozen=True)
class FrameTracks:
    """The K tracks of one sensor at one time."""

    time_unix_s: float
    unit: Array  # (K, 3) line of sight
    east: Array  # (K, 3) tangent basis
    north: Array  # (K, 3)
    rate_deg_s: Array  # (K, 2) (xi, eta) rates
    position_cov: Array  # (K, 2, 2) deg^2
    rate_cov: Array  # (K, 2, 2) (deg/s)^2
    position_var: Array  # (K,) mean position variance per axis, with the sensor's, deg^2

    def __len__(self) -> int:
        return len(self.unit)


def frame_tracks(tracks: Sequence[TrackUpdate] | TrackBatch, sensor: Sensor) -> FrameTracks:
    """Validate the (non-empty) tracks of one frame of ``sensor`` and stack them.

    Raises ``ValueError`` naming the first track of another sensor or another time, with a
    covariance that is not finite or has a negative diagonal, or with a declination outside
    [-90, 90].
    """
    if isinstance(tracks, TrackBatch):
        if tracks.sensor_id != sensor.sensor_id:
            raise ValueError(
                f"tracks[0].sensor_id {tracks.sensor_id!r} (track {tracks.track_id[0]!r}) is "
                f"not the sensor's {sensor.sensor_id!r}"
            )
        track_ids = tracks.track_id
        time_unix_s = unix_from_datetime(tracks.time)
        ra, dec = tracks.ra_deg, tracks.dec_deg
        rates = np.stack([tracks.ra_rate_deg_s, tracks.dec_rate_deg_s], axis=-1)
        cov = tracks.covariance
    else:
        track_ids = tuple(t.track_id for t in tracks)
        time_unix_s = unix_from_datetime(tracks[0].time)
        first_time = tracks[0].time
        for i, track in enumerate(tracks):
            if track.sensor_id != sensor.sensor_id:
                raise ValueError(
                    f"tracks[{i}].sensor_id {track.sensor_id!r} (track "
                    f"{track.track_id!r}) is not the sensor's {sensor.sensor_id!r}"
                )
            if abs((track.time - first_time).total_seconds()) > 1e-3:
                raise ValueError(
                    f"tracks[{i}].time {track.time.isoformat()} (track "
                    f"{track.track_id!r}) differs from tracks[0].time "
                    f"{tracks[0].time.isoformat()}: correlate one frame at a time"
                )
        ra = np.array([t.ra_deg for t in tracks], dtype=float)
        dec = np.array([t.dec_deg for t in tracks], dtype=float)
        rates = np.array([[t.ra_rate_deg_s, t.dec_rate_deg_s] for t in tracks], dtype=float)
        cov = np.array([t.covariance for t in tracks], dtype=float)
    bad_cov = ~np.all(np.isfinite(cov), axis=(1, 2)) | np.any(
        np.diagonal(cov, axis1=1, axis2=2) < 0, axis=1
    )
    if bad_cov.any():
        i = int(np.flatnonzero(bad_cov)[0])
        raise ValueError(
            f"tracks[{i}].covariance (track {track_ids[i]!r}) must be finite "
            f"with a non-negative diagonal"
        )
    bad_dec = np.abs(dec) > 90.0
    if bad_dec.any():
        i = int(np.flatnonzero(bad_dec)[0])
        raise ValueError(
            f"tracks[{i}].dec_deg {dec[i]} (track {track_ids[i]!r}) is outside [-90, 90]"
        )
    east, north, unit = tangent_basis(ra, dec)
    # Symmetrise: a tracker's covariance can be a few ulps from symmetric.
    cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
    position_var = (
        np.trace(cov[:, :2, :2], axis1=1, axis2=2) / 2.0
        + (sensor.sigma_arcsec / ARCSEC_PER_DEG) ** 2
    )
    return FrameTracks(
        time_unix_s=time_unix_s,
        unit=unit,
        east=east,
        north=north,
        rate_deg_s=rates,
        position_cov=cov[:, :2, :2],
        rate_cov=cov[:, 2:, 2:],
        position_var=position_var,
    )

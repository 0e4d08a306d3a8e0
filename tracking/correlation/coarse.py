"""Coarse selection: the (track, object) pairs worth measuring, by dense matrix products."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..constants import ARCSEC_PER_DEG, SURFACE_GRAVITY_KM_S2
from ..types import IntArray
from .objects import ObjectStates
from .settings import CorrelationSettings
from .tracks import FrameTracks

__all__ = ["CoarsePairs", "coarse_select"]

# Largest (tracks x objects) block the coarse selection evaluates at once: 0.8 MB arrays, which
# stay clear of the page faults a fresh multi-megabyte array costs on every call.
_CHUNK_ELEMENTS = 100_000


@dataclass(frozen=True)
class CoarsePairs:
    """The pairs that survived the coarse selection: P entries, each a track and an object."""

    track: IntArray  # (P,) into the frame's tracks
    row: IntArray  # (P,) into the ObjectStates rows (not the catalogue)

    def __len__(self) -> int:
        return len(self.track)


def coarse_select(
    tracks: FrameTracks, objects: ObjectStates, settings: CorrelationSettings
) -> CoarsePairs:
    """Pairs ``(track, object row)`` worth measuring.

    Every object: the track lies within its reach (the distance it can travel along its path
    within its window, plus its positional gate). Fast objects also: the track lies in a band
    around the great circle the object runs on as seen from the sensor held still (a straight
    line seen from a point is a great circle; the band allows the positional gate plus the
    bending of the orbit by gravity over the window), and the track's apparent speed is within
    ``coarse_speed_ratio`` of the object's.

    The tests run as dense (tracks x objects) matrix products, a few chunks of tracks at a
    time: the band around a great circle is not a ball, so a k-d tree would not index it, and
    products over the few thousand objects a sensor can see cost milliseconds.
    """
    s, trk = settings, tracks
    floor_var = (s.rate_sigma_floor_arcsec_s / ARCSEC_PER_DEG) ** 2
    unit, slow, speed = objects.unit, objects.slow, objects.speed_deg_s
    pole = np.cross(unit, objects.path)
    pole /= np.maximum(np.linalg.norm(pole, axis=-1), 1e-30)[:, None]
    bend_deg = np.degrees(0.5 * SURFACE_GRAVITY_KM_S2 * objects.window_s**2 / objects.range_km)
    sin_band = np.sin(np.radians(np.minimum(objects.position_gate_deg + bend_deg, 90.0)))
    cos_reach = np.cos(np.radians(np.minimum(objects.reach_deg, 180.0)))

    track_speed = np.hypot(trk.rate_deg_s[:, 0], trk.rate_deg_s[:, 1])
    speed_sigma = np.sqrt(np.trace(trk.rate_cov, axis1=1, axis2=2) / 2.0 + floor_var)
    lowest = ((track_speed - s.gate_sigma * speed_sigma) / s.coarse_speed_ratio)[:, None]
    highest = ((track_speed + s.gate_sigma * speed_sigma) * s.coarse_speed_ratio)[:, None]

    slow_rows, fast_rows = np.flatnonzero(slow), np.flatnonzero(~slow)
    slow_unit_t, slow_cos_reach = unit[slow_rows].T.copy(), cos_reach[slow_rows]
    fast_pole_t, fast_sin_band = pole[fast_rows].T.copy(), sin_band[fast_rows]
    tracks_out: list[IntArray] = []
    objects_out: list[IntArray] = []
    step = max(1, _CHUNK_ELEMENTS // len(unit))
    for start in range(0, len(trk.unit), step):  # one pass per chunk of tracks
        r = trk.unit[start : start + step]
        # Slow objects: within reach.
        k, j = np.nonzero(r @ slow_unit_t >= slow_cos_reach)
        tracks_out.append(k + start)
        objects_out.append(slow_rows[j])
        # Fast objects: in the band first (the narrowest test), then reach and speed per pair.
        k, j = np.nonzero(np.abs(r @ fast_pole_t) <= fast_sin_band)
        rows = fast_rows[j]
        keep = (
            (np.sum(r[k] * unit[rows], -1) >= cos_reach[rows])
            & (speed[rows] >= lowest[k + start, 0])
            & (speed[rows] <= highest[k + start, 0])
        )
        tracks_out.append(k[keep] + start)
        objects_out.append(rows[keep])
    return CoarsePairs(track=np.concatenate(tracks_out), row=np.concatenate(objects_out))

"""Coarse selection: the (track, object) pairs worth measuring, found with a k-d tree."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..association import candidate_pairs
from ..constants import ARCSEC_PER_DEG, SURFACE_GRAVITY_KM_S2
from ..types import IntArray
from .objects import ObjectStates
from .settings import CorrelationSettings
from .tracks import FrameTracks

__all__ = ["CoarsePairs", "coarse_select"]

# The k-d tree looks a hair beyond each object's reach, so that the exact test below, not the
# tree's own arithmetic, decides a pair on the edge.
_REACH_SLACK_DEG = 1e-9


@dataclass(frozen=True)
class CoarsePairs:
    """The pairs that survived the coarse selection: P entries, each a track and an object,
    sorted by track, then by object row."""

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

    The reach is a ball around each object's prediction, a fraction of a degree for most, so a
    k-d tree over the frame's tracks finds the pairs within it; the band and the speed are then
    tested on those pairs alone. A frame thus costs its objects and the pairs near them, not
    every (track, object) product.
    """
    s, trk = settings, tracks
    reach_deg = np.minimum(objects.reach_deg, 180.0)
    row, track = candidate_pairs(objects.unit, reach_deg + _REACH_SLACK_DEG, trk.unit)
    within = np.einsum("ij,ij->i", trk.unit[track], objects.unit[row]) >= np.cos(
        np.radians(reach_deg[row])
    )
    row, track = row[within], track[within]

    fast = ~objects.slow[row]
    f_row, f_track = row[fast], track[fast]
    pole = np.cross(objects.unit[f_row], objects.path[f_row])
    pole /= np.maximum(np.linalg.norm(pole, axis=-1), 1e-30)[:, None]
    bend_deg = np.degrees(
        0.5 * SURFACE_GRAVITY_KM_S2 * objects.window_s[f_row] ** 2 / objects.range_km[f_row]
    )
    band_deg = np.minimum(objects.position_gate_deg[f_row] + bend_deg, 90.0)
    in_band = np.abs(np.einsum("ij,ij->i", trk.unit[f_track], pole)) <= np.sin(np.radians(band_deg))
    floor_var = (s.rate_sigma_floor_arcsec_s / ARCSEC_PER_DEG) ** 2
    rate, rate_cov = trk.rate_deg_s[f_track], trk.rate_cov[f_track]
    track_speed = np.hypot(rate[:, 0], rate[:, 1])
    speed_sigma = np.sqrt(np.trace(rate_cov, axis1=1, axis2=2) / 2.0 + floor_var)
    object_speed = objects.speed_deg_s[f_row]
    in_speed = (
        object_speed >= (track_speed - s.gate_sigma * speed_sigma) / s.coarse_speed_ratio
    ) & (object_speed <= (track_speed + s.gate_sigma * speed_sigma) * s.coarse_speed_ratio)
    keep = ~fast
    keep[fast] = in_band & in_speed
    row, track = row[keep], track[keep]
    order = np.lexsort((row, track))
    return CoarsePairs(track=track[order], row=row[order])

"""The scored track-object pairs: what the assignment and the records are made from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..types import Array, BoolArray, IntArray

__all__ = ["CandidatePairs", "empty_pairs"]


@dataclass(frozen=True)
class CandidatePairs:
    """Every track-object pair measured, with its evidence.

    Arrays are parallel, one entry per pair; ``track`` indexes the tracks passed in and
    ``object_index`` the catalogue. ``log_lr`` is the log-likelihood ratio of the object
    against the uncatalogued-object hypothesis over the track's arc (NaN when the arc cannot
    tell, e.g. a single time); the offsets are what the object's hypothesis fits to the arc at
    the frame time, track minus prediction, with the sign conventions of
    :class:`~orbitlink.tracking.models.Association`.
    """

    track: IntArray
    object_index: IntArray
    log_lr: Array
    along_track_s: Array  # NaN for near-stationary objects (their offset is a distance)
    cross_track_arcsec: Array
    direction_deg: Array  # NaN where the object barely moves
    rate_fraction: Array
    element_age_days: Array  # signed: time - epoch
    arc_detections: IntArray  # detections the evidence holds
    slow: BoolArray
    n_tracks: int
    # The object's hypothesis of the offset line at the frame time, per component (along,
    # cross): mean (intercept, slope), its covariance, and the slope's prior variance.
    offset_mean: Array | None = None  # (P, 2, 2)
    offset_cov: Array | None = None  # (P, 2, 2, 2)
    drift_var: Array | None = None  # (P, 2)

    def __len__(self) -> int:
        return len(self.track)

    @property
    def acceptable(self) -> BoolArray:
        """The pairs whose object explains the arc better than an uncatalogued object."""
        return np.isfinite(self.log_lr) & (self.log_lr > 0.0)


def empty_pairs(n_tracks: int) -> CandidatePairs:
    """No candidate for any of ``n_tracks`` tracks."""
    e = np.zeros(0)
    i = np.zeros(0, dtype=np.intp)
    return CandidatePairs(
        track=i,
        object_index=i,
        log_lr=e,
        along_track_s=e,
        cross_track_arcsec=e,
        direction_deg=e,
        rate_fraction=e,
        element_age_days=e,
        arc_detections=i,
        slow=np.zeros(0, bool),
        n_tracks=n_tracks,
    )

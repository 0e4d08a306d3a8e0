"""The element sets' own error, as the correlator uses it: the fitted model, per object.

The sigmas come from :class:`~orbitlink.tracking.element_error.ElementErrorModel`, fitted on two
real catalogue snapshots per orbit class and age (``docs/error-model.md``); the correlator
scales them by ``element_sigma_scale`` and turns them into

* the search limits of a candidate: its along-track window (a time) and its positional reach
  (an angle at its range);
* the priors of the arc evidence (:mod:`.evidence`): the along-track offset of a moving object
  is a time (its timing error), of a near-stationary one a distance (in-track error); the
  cross-track offset a distance; what the sky shows of a radial error is folded into both;
  and the share of far-off sets (the fitted tail beyond 5 sigma).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..element_error import ElementErrorModel, read_element_error_model
from ..types import Array, IntArray
from .settings import CorrelationSettings

__all__ = ["ElementPriors", "element_priors", "error_model"]


@lru_cache(maxsize=4)
def _model(path: Path | None) -> ElementErrorModel:
    return read_element_error_model(path)


def error_model(settings: CorrelationSettings) -> ElementErrorModel:
    """The fitted error model the settings name (read once per table)."""
    return _model(settings.element_error_table)


@dataclass(frozen=True)
class ElementPriors:
    """1-sigma element-set errors of some objects at their ages, scaled, and their tails."""

    timing_s: Array
    in_track_km: Array
    cross_track_km: Array
    radial_km: Array
    along_tail: Array  # share of far-off sets, in-track
    cross_tail: Array

    def position_sigma_deg(self, range_km: Array) -> Array:
        """Across and radially, as an angle at ``range_km``: the positional gate's sigma."""
        km = np.hypot(self.cross_track_km, self.radial_km)
        return np.degrees(km / np.maximum(range_km, 1.0))

    def in_track_sigma_deg(self, range_km: Array) -> Array:
        """Along the track with the radial error, as an angle at ``range_km``."""
        km = np.hypot(self.in_track_km, self.radial_km)
        return np.degrees(km / np.maximum(range_km, 1.0))


def element_priors(
    settings: CorrelationSettings, class_codes: IntArray, age_days: Array
) -> ElementPriors:
    """The scaled sigmas and tails of objects of the given orbit classes and ages (days)."""
    model = error_model(settings)
    sigmas = model.sigmas(class_codes, age_days)
    scale = settings.element_sigma_scale
    tail = settings.element_tail_scale
    return ElementPriors(
        timing_s=scale * sigmas.timing_s,
        in_track_km=scale * sigmas.in_track_km,
        cross_track_km=scale * sigmas.cross_track_km,
        radial_km=scale * sigmas.radial_km,
        along_tail=np.clip(tail * model.tail("in_track_km", class_codes), 0.0, 0.5),
        cross_tail=np.clip(tail * model.tail("cross_track_km", class_codes), 0.0, 0.5),
    )

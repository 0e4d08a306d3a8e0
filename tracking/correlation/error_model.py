"""The element sets' own error: 1-sigma timing and position error as they age.

Each sigma is its value at epoch plus a growth per day of age ``|time - epoch|``. The position
error combines in quadrature a distance, turned into an angle at the object's range (what
matters for low orbits), and an angle (the floor that matters for distant objects such as
GEO). The figures are fields of :class:`~.settings.CorrelationSettings`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..constants import ARCSEC_PER_DEG
from ..types import Array

if TYPE_CHECKING:
    from .settings import CorrelationSettings

__all__ = ["element_sigmas"]


def element_sigmas(
    settings: CorrelationSettings, age_days: Array, range_km: Array
) -> tuple[Array, Array]:
    """Timing sigma (s) and position sigma (deg) of element sets of the given age (days, signed
    or not) seen at the given range (km)."""
    s = settings
    age = np.abs(np.asarray(age_days, dtype=float))
    timing_s = s.timing_sigma_s + s.timing_sigma_growth_s_per_day * age
    position_km = s.position_sigma_km + s.position_sigma_growth_km_per_day * age
    angular_deg = (
        s.angular_sigma_arcsec + s.angular_sigma_growth_arcsec_per_day * age
    ) / ARCSEC_PER_DEG
    position_deg = np.hypot(np.degrees(position_km / np.maximum(range_km, 1.0)), angular_deg)
    return timing_s, position_deg

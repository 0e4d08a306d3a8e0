"""The correlator's settings: every gate and uncertainty, with units."""

from __future__ import annotations

from pydantic import Field

from ..settings import Settings
from ..types import Array
from .error_model import element_sigmas

__all__ = ["CorrelationSettings"]


class CorrelationSettings(Settings):
    """Every gate and uncertainty of the correlator, with units.

    The catalogue's own error is modelled per element set as a 1-sigma value that grows linearly
    with the element set's age ``|time - epoch|`` in days; it is combined in quadrature with
    the track's covariance and the sensor's astrometric sigma. Each measure is then normalised
    by its total sigma and gated at :attr:`gate_sigma`; the sum of the squares is the ``score``.
    """

    # -- element-set error model (1 sigma at epoch + growth per day of age)
    timing_sigma_s: float = Field(
        1.0,
        ge=0.0,
        description="Along-track timing error of a fresh element set, s (fast movers only).",
    )
    timing_sigma_growth_s_per_day: float = Field(
        2.0,
        ge=0.0,
        description="Growth of the timing error, s/day: week-old Starlink sets are "
        "3-50 s early or late, so 15 s at a week, searched to ``gate_sigma`` x 15 = 60 s.",
    )
    position_sigma_km: float = Field(
        0.3,
        ge=0.0,
        description="Position error of a fresh element set across (and along) its "
        "path, km; converted to an angle at the object's range.",
    )
    position_sigma_growth_km_per_day: float = Field(
        0.15,
        ge=0.0,
        description="Growth of the position error, km/day: week-old Starlink sets "
        "stay within ~2 km across their path (1.35 km 1-sigma at a week).",
    )
    angular_sigma_arcsec: float = Field(
        10.0,
        ge=0.0,
        description="Angular error of a fresh element set in any direction, arcsec: "
        "the floor that matters for distant objects (GEO), where kilometres are a few arcsec.",
    )
    angular_sigma_growth_arcsec_per_day: float = Field(
        10.0,
        ge=0.0,
        description="Growth of the angular error, arcsec/day: week-old GEO sets are "
        "30-200 arcsec off (80 arcsec 1-sigma at a week, gated at 320).",
    )
    direction_sigma_deg: float = Field(
        0.5,
        gt=0.0,
        description="Direction-of-motion tolerance, deg: stvid's 2-degree gate at "
        "``gate_sigma`` = 4.",
    )
    rate_sigma_fraction: float = Field(
        0.0125,
        gt=0.0,
        description="Fractional angular-speed tolerance: stvid's 5 % gate at ``gate_sigma`` = 4.",
    )
    rate_sigma_floor_arcsec_s: float = Field(
        0.5,
        ge=0.0,
        description="Absolute floor on each component of the rate difference, "
        "arcsec/s: keeps the direction and speed tests sane for objects that barely move.",
    )

    # -- gates
    gate_sigma: float = Field(
        4.0, gt=0.0, description="Every normalised measure must be within this many sigma."
    )
    chi2_gate: float = Field(
        23.5,
        gt=0.0,
        description="Largest acceptable score (sum of the four squared normalised "
        "measures): the 1e-4 tail of chi-square with 4 degrees of freedom. It is also the score "
        'of the "UCT" alternative.',
    )
    ambiguity_delta_chi2: float = Field(
        6.0,
        ge=0.0,
        description="A runner-up whose score is within this of the chosen object's "
        "makes the association ambiguous (a likelihood ratio under e^3 = 20).",
    )

    # -- search
    slow_rate_deg_s: float = Field(
        0.01,
        gt=0.0,
        description="Objects predicted to move slower than this (deg/s, 36 "
        "arcsec/s; GEO from the ground moves at 0.0042) are matched by angular offset, without a "
        "time search.",
    )
    max_window_s: float = Field(
        90.0,
        ge=0.0,
        description="Largest along-track time offset searched, s, whatever the element set's age.",
    )
    grid_step_s: float = Field(
        30.0,
        gt=0.0,
        description="Largest spacing of the prediction grid spanning the search "
        "window, s; the path between nodes is a cubic spline: 0.2 m (0.06 arcsec) worst error "
        "for low orbits at 30 s.",
    )
    refine_iterations: int = Field(
        4, ge=1, description="Gauss-Newton steps refining the along-track offset on the spline."
    )
    coarse_path_factor: float = Field(
        1.5,
        ge=0.0,
        description="Reach of a fast object over its search window, as a multiple of "
        "speed x window, for the coarse position gate (the apparent speed changes along a low "
        "pass).",
    )
    coarse_speed_ratio: float = Field(
        2.5,
        gt=0.0,
        description="Coarse gate on speed: a fast object is only paired with tracks "
        "whose angular speed is within this factor of its own (after widening by the track's "
        "speed uncertainty). Loose: a low pass speeds up and slows down along the window.",
    )
    fov_margin: float = Field(
        1.2,
        gt=0.0,
        description="With a field of view, objects further than ``fov_margin`` x "
        "radius plus their reach are not considered (SatChecker keeps hits within 1.2 x the FOV "
        "radius).",
    )
    require_sunlit: bool = Field(
        False,
        description="Only consider objects predicted in sunlight. Off by default: a "
        "week-old element set can put the shadow entry a minute off.",
    )

    def element_sigmas(self, age_days: Array, range_km: Array) -> tuple[Array, Array]:
        """Timing sigma (s) and position sigma (deg) of element sets of the given age (days,
        absolute) seen at the given range (km): :func:`~.error_model.element_sigmas`."""
        return element_sigmas(self, age_days, range_km)

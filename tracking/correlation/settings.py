"""The correlator's settings: every prior, gate and search limit, with units."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ..settings import Settings

__all__ = ["CorrelationSettings"]


class CorrelationSettings(Settings):
    """Every prior, gate and search limit of the correlator, with units.

    A candidate object's element-set error comes from the fitted model of
    :mod:`orbitlink.tracking.element_error` (per orbit class and age); the evidence of a
    track's arc for each candidate and for the "uncatalogued object" alternative is in
    :mod:`.evidence`. ``docs/correlation.md`` explains both.
    """

    # -- the element sets' error
    element_error_table: Path | None = Field(
        None,
        description="JSON table of the fitted element-set error model; None: the table "
        "shipped with orbitlink (fitted on two real catalogue snapshots four days apart, "
        "see docs/error-model.md and tools/fit_error_model.py).",
    )
    element_sigma_scale: float = Field(
        1.0,
        gt=0.0,
        description="Multiplies every sigma of the fitted model: above 1 for a catalogue "
        "whose sets are worse than those the model was fitted on.",
    )
    element_tail_scale: float = Field(
        0.0,
        ge=0.0,
        description="Multiplies the fitted share of far-off element sets (beyond 5 sigma: "
        "manoeuvres, mis-tagged ids), whose offsets the evidence then allows ``TAIL_SCALE`` "
        "times wider. 0 (the default) trusts every set's Gaussian core: an object further off "
        "than its set's error allows is left a UCT rather than named, which also keeps a "
        "neighbour from being named for an uncatalogued object beside it.",
    )

    # -- the uncatalogued-object hypothesis
    uncatalogued_prior: float = Field(
        0.1,
        gt=0.0,
        lt=1.0,
        description="Share of the objects a sensor sees that are not in the catalogue: with "
        "the density of catalogued objects near a track, it sets the prior density of the "
        "uncatalogued-object (UCT) hypothesis.",
    )
    density_radius_deg: float = Field(
        2.0,
        gt=0.0,
        description="Catalogued objects within this angle of a track (and ``density_rate_*`` "
        "of its rate) measure the local density of objects the UCT hypothesis scales.",
    )
    density_rate_fraction: float = Field(
        0.25,
        gt=0.0,
        description="Rate neighbourhood of the density count, as a fraction of the track's "
        "angular speed.",
    )
    density_rate_floor_arcsec_s: float = Field(
        20.0,
        gt=0.0,
        description="Smallest rate neighbourhood of the density count, arcsec/s: near-"
        "stationary objects (GEO from the ground) all share about one rate.",
    )

    # -- verdicts
    name_log_odds: float = Field(
        3.0,
        ge=0.0,
        description="A candidate is named only when its arc beats the UCT hypothesis by this "
        "log-likelihood ratio (e^3 = 20 to 1); below it the track is a UCT. A tentative track "
        "named so, without ambiguity, is confirmed at once whatever its M-of-N count: a short "
        "pass of a known object gets its name.",
    )
    ambiguity_log_odds: float = Field(
        3.0,
        ge=0.0,
        description="A named track is ambiguous when another candidate object explains it "
        "within this log-likelihood ratio of the chosen one, or another track explains the "
        "chosen object within it (e^3 = 20 to 1).",
    )
    claim_memory_s: float = Field(
        3600.0,
        gt=0.0,
        description="How long a track's claim on an object outlives the track's last "
        "detection: another track of the same sensor that wants the object within this time "
        "must agree with the claimant's offsets (the same object seen again) or compete with "
        "it (one object, one track).",
    )
    max_candidates_per_track: int = Field(
        6,
        ge=1,
        description="Candidate objects whose evidence a track keeps from frame to frame.",
    )
    gate_sigma: float = Field(
        4.0,
        gt=0.0,
        description="Search limits, in element-set sigmas: the along-track window and the "
        "positional reach of a candidate.",
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
    rate_sigma_floor_arcsec_s: float = Field(
        0.5,
        ge=0.0,
        description="Floor on a track's rate uncertainty in the coarse speed test, "
        "arcsec/s: keeps it sane for objects that barely move.",
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

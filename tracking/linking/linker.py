"""The provisional catalogue: UCT tracklets linked into objects with orbits.

:class:`Linker` keeps the unknown objects found so far (:class:`ProvisionalObject`, ids
``UCT-<n>``) and takes tracklets one at a time (:meth:`Linker.link`):

1. The tracklet's own orbit is determined if it can be
   (:func:`~orbitlink.tracking.orbit.determine.determine_orbit`); otherwise it has its
   admissible region.
2. It is tried against the existing objects. An object whose orbit predicts the tracklet's
   times well (its phase uncertainty there below ``max_phase_sigma_rad``) is *gated*: SGP4
   carries the orbit and its covariance to the tracklet, whose residuals must pass a
   chi-square test (:func:`.orbits.gate_chi2`, all such objects at once). An object with no
   orbit, or one too uncertain to predict that far, is *searched*: the admissible region of
   its latest tracklet is searched for orbits through the new tracklet
   (:func:`.region.region_candidates`), if the two can share a mean motion at all. An object
   whose orbit rests on fewer than ``trust_gate_after_tracklets`` tracklets is searched too
   when its gate failed: two short tracklets under-state how wrong their orbit is a day on.
3. Every candidate is refined by a least-squares fit of SGP4 mean elements to all the
   object's observations and the tracklet's (:func:`.orbits.fit_elements`); a fit is
   accepted if its chi-square, and the tracklet's share of it, pass at ``fit_probability``.
   The accepted fit that the tracklet raises least wins; the object takes the tracklet.
4. Otherwise the tracklet opens a new object, with the orbit of step 1 or its region.
5. An object whose orbit a link refined is tried against the other objects (their kept
   tracklets gated by the new orbit, then one fit over both): two objects found to be one
   are merged into the older, and the younger is reported once more, ``merged_into`` it.
   An object opened when its first tracklets were too short or too far apart to be linked
   is recovered this way once a third tracklet pins the orbit down.

:meth:`Linker.identify` matches objects against element sets that arrive later (their
observations reproduced by the set within an along-track shift), which gives them a NORAD id.

The linker is deterministic (the same tracklets in the same order give the same objects and
records), its state is bytes (:meth:`Linker.to_bytes`, :meth:`Linker.from_bytes`: exact
floats, so a restored linker carries on identically), and bounded: objects without a tracklet
for ``expire_after_s`` of event time are dropped (reported once more, as expired), at most
``max_objects`` are kept and each keeps its ``max_tracklets_per_object`` newest tracklets.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from pydantic import Field

from ..association import chi_square_quantile
from ..catalogue import Catalogue
from ..constants import EARTH_MU_KM3_S2, EARTH_RADIUS_KM, SECONDS_PER_DAY
from ..orbit.admissible import AdmissibleRegion, admissible_region, attributable
from ..orbit.angles import AngleObservations
from ..orbit.determine import DeterminationSettings, determine_orbit
from ..orbit.elements import elements_from_state
from ..orbit.tle import MeanElements, fit_mean_elements
from ..settings import Settings
from ..times import datetime_from_unix
from ..tracklets import Tracklet
from .identify import IdentifySettings, identify_objects
from .orbits import (
    ProvisionalOrbit,
    fit_elements,
    gate_chi2,
    gate_chi2_of_sets,
    mean_elements_from_state,
    observation_chi2,
    phase_sigma_rad,
    reepoch,
)
from .records import UctObjectRecord, UctStatus
from .region import RegionSearchSettings, mean_motion_band_rad_s, region_candidates

__all__ = ["LinkAttempt", "Linker", "LinkerSettings", "ProvisionalObject"]

STATE_MAGIC = "orbitlink-linker-1"


class LinkerSettings(Settings):
    """How tracklets are linked, and how long provisional objects are kept."""

    gate_probability: float = Field(
        0.9999,
        gt=0.0,
        lt=1.0,
        description="Chi-square quantile a tracklet must be within to pass an object's orbit "
        "gate (2 degrees of freedom per observation).",
    )
    fit_probability: float = Field(
        0.9999,
        gt=0.0,
        lt=1.0,
        description="Chi-square quantile within which a link's fit must stay, over all its "
        "observations and over the new tracklet's alone.",
    )
    max_phase_sigma_rad: float = Field(
        0.3,
        gt=0.0,
        description="Largest 1-sigma of an orbit's phase at the tracklet for the linear gate; "
        "beyond it the object is searched like one without an orbit.",
    )
    trust_gate_after_tracklets: int = Field(
        3,
        ge=1,
        description="An object whose orbit rests on fewer tracklets is searched even when its "
        "gate, which judges by the orbit's covariance alone, turned the tracklet down (two "
        "short tracklets under-state how wrong their orbit can be a day later).",
    )
    max_search_gap_s: float = Field(
        3 * SECONDS_PER_DAY,
        gt=0.0,
        description="Longest gap over which an object without a usable orbit is searched "
        "for a tracklet (the search's cost grows with the revolutions in between).",
    )
    mean_motion_sigmas: float = Field(
        5.0,
        gt=0.0,
        description="Half-width, in sigmas, of the mean motions a fitted orbit allows when "
        "its object is searched or the tracklet's own orbit narrows a search.",
    )
    mean_motion_floor: float = Field(
        0.01,
        ge=0.0,
        description="Smallest half-width of such a window, as a fraction of the mean motion "
        "(osculating and mean motions differ by up to 0.3% in low orbit).",
    )
    max_refits: int = Field(
        6, ge=1, description="Candidate links refined by a full fit per tracklet, at most."
    )
    bstar_after_s: float = Field(
        0.5 * SECONDS_PER_DAY,
        gt=0.0,
        description="Fit B* too once an object's observations (three tracklets at least) "
        "span this long, if its perigee is below drag_height_km: over days a low orbit's "
        "drag shows.",
    )
    drift_sigma_rev_day2: float = Field(
        3e-3,
        ge=0.0,
        description="1-sigma of the unmodelled change of mean motion (drag) of an orbit with "
        "perigee below drag_height_km, rev/day^2 (a quarter of it once B* is fitted): it "
        "widens the gate as the square of the time since the object was last seen.",
    )
    max_bstar_per_earth_radius: float = Field(
        0.01,
        gt=0.0,
        description="Largest |B*| a link's fit may reach: beyond it the fit explains a wrong "
        "pairing by drag no object has.",
    )
    drag_height_km: float = Field(
        1500.0,
        ge=0.0,
        description="Perigee height below which drag is allowed for (drift_sigma_rev_day2, "
        "B* fitted). SGP4 applies B* at any height, and real sets of objects at 1,200 km "
        "(OneWeb) carry B* of 1e-3 that shows over two days.",
    )
    reepoch_after_s: float = Field(
        0.5 * SECONDS_PER_DAY,
        gt=0.0,
        description="Move an orbit's epoch to its newest tracklet once they are this far "
        "apart (the TLE then describes the object where it was last seen).",
    )
    expire_after_s: float = Field(
        7 * SECONDS_PER_DAY,
        gt=0.0,
        description="Event time without a new tracklet after which an object is dropped.",
    )
    max_objects: int = Field(
        10_000, ge=1, description="Objects kept at most; beyond, the longest unseen go."
    )
    max_merges_per_link: int = Field(
        4,
        ge=0,
        description="Other objects a refined orbit may absorb after one link, at most (0: "
        "objects are never merged).",
    )
    max_tracklets_per_object: int = Field(
        12, ge=2, description="Tracklets an object keeps for its fits (the newest)."
    )
    first_tle_number: int = Field(
        270_000,
        ge=0,
        le=339_999,
        description="Catalogue number of UCT-1's TLE (270000 is Alpha-5 T0000); UCT-n gets "
        "first_tle_number + (n - 1) modulo tle_numbers.",
    )
    tle_numbers: int = Field(10_000, ge=1, description="Size of the provisional number range.")
    determination: DeterminationSettings = Field(
        DeterminationSettings(), description="Initial orbit determination of a tracklet."
    )
    search: RegionSearchSettings = Field(
        RegionSearchSettings(), description="The admissible-region search."
    )
    identify: IdentifySettings = Field(
        IdentifySettings(), description="Matching objects with catalogue element sets."
    )


def _perigee_height_km(elements: MeanElements) -> float:
    n_rad_s = elements.mean_motion_rev_day * 2.0 * math.pi / SECONDS_PER_DAY
    a_km = (EARTH_MU_KM3_S2 / n_rad_s**2) ** (1.0 / 3.0)
    return a_km * (1.0 - elements.eccentricity) - EARTH_RADIUS_KM


@dataclass(frozen=True)
class ProvisionalObject:
    """An unknown object: its tracklets, its orbit (or none yet), what is known of it.

    ``tracklets`` are the newest linked (at most ``max_tracklets_per_object``, those the fits
    use); ``track_ids`` every track ever linked; ``n_observations`` every observation ever
    linked. Times are Unix seconds. ``revision`` counts the object's changes from 1.
    """

    uct_id: str
    number: int
    tracklets: tuple[Tracklet, ...]
    track_ids: tuple[str, ...]
    sensors: tuple[str, ...]
    n_observations: int
    first_seen_s: float
    last_seen_s: float
    orbit: ProvisionalOrbit | None
    reason: str
    revision: int = 1
    norad_id: int | None = None
    expired: bool = False
    range_km: tuple[float, float] | None = None
    merged_into: str | None = None

    @property
    def status(self) -> UctStatus:
        if self.merged_into is not None:
            return "merged"
        if self.expired:
            return "expired"
        if self.norad_id is not None:
            return "identified"
        return "orbit" if self.orbit is not None else "region"

    def tle_number(self, settings: LinkerSettings) -> int:
        return settings.first_tle_number + (self.number - 1) % settings.tle_numbers

    def record(self, settings: LinkerSettings = LinkerSettings()) -> UctObjectRecord:
        """The object as the Contract's record (see :mod:`.records`)."""
        values: dict[str, Any] = {}
        if self.orbit is not None:
            number = self.tle_number(settings)
            orbit = self.orbit
            r, v, covariance = orbit.gcrs_state()
            elements = elements_from_state(r, v)
            values = dict(
                tle=list(orbit.tle_elements.tle_lines(number)),
                tle_number=number,
                epoch=datetime_from_unix(orbit.epoch_unix_s),
                omm=orbit.elements.omm(number, name=self.uct_id),
                position_km=r.tolist(),
                velocity_km_s=v.tolist(),
                covariance=covariance.tolist(),
                semi_major_axis_km=float(elements.semi_major_axis_km),
                eccentricity=float(elements.eccentricity),
                inclination_deg=float(elements.inclination_deg),
                rms_arcsec=orbit.rms_arcsec,
            )
        return UctObjectRecord(
            uct_id=self.uct_id,
            track_ids=list(self.track_ids),
            norad_id=self.norad_id,
            n_observations=self.n_observations,
            sensors=list(self.sensors),
            first_seen=datetime_from_unix(self.first_seen_s),
            last_seen=datetime_from_unix(self.last_seen_s),
            status=self.status,
            revision=self.revision,
            n_tracks=len(self.track_ids),
            range_km=None if self.range_km is None else list(self.range_km),
            merged_into=self.merged_into,
            reason=self.reason,
            **values,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "uct_id": self.uct_id,
            "number": self.number,
            "tracklets": [t.model_dump(mode="json") for t in self.tracklets],
            "track_ids": list(self.track_ids),
            "sensors": list(self.sensors),
            "n_observations": self.n_observations,
            "first_seen_s": self.first_seen_s,
            "last_seen_s": self.last_seen_s,
            "orbit": None if self.orbit is None else self.orbit.to_dict(),
            "reason": self.reason,
            "revision": self.revision,
            "norad_id": self.norad_id,
            "expired": self.expired,
            "range_km": None if self.range_km is None else list(self.range_km),
            "merged_into": self.merged_into,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProvisionalObject:
        return cls(
            uct_id=data["uct_id"],
            number=int(data["number"]),
            tracklets=tuple(Tracklet.model_validate(t) for t in data["tracklets"]),
            track_ids=tuple(data["track_ids"]),
            sensors=tuple(data["sensors"]),
            n_observations=int(data["n_observations"]),
            first_seen_s=float(data["first_seen_s"]),
            last_seen_s=float(data["last_seen_s"]),
            orbit=None if data["orbit"] is None else ProvisionalOrbit.from_dict(data["orbit"]),
            reason=data["reason"],
            revision=int(data["revision"]),
            norad_id=data["norad_id"],
            expired=bool(data["expired"]),
            range_km=None if data["range_km"] is None else tuple(data["range_km"]),
            merged_into=data.get("merged_into"),
        )


@dataclass
class _Candidate:
    """A possible link: an object and where a fit of both starts from."""

    uct_id: str
    kind: str  # "gate" | "search"
    score: float  # chi-square per degree of freedom of the tracklet, for the ranking
    elements: MeanElements | None = None  # gate: the object's elements
    epoch_unix_s: float = 0.0  # search: a candidate state at an epoch
    state: np.ndarray | None = None


@dataclass
class _Link:
    uct_id: str
    orbit: ProvisionalOrbit
    increase: float  # chi-square the tracklet added, per its degrees of freedom
    how: str


@dataclass
class LinkAttempt:
    """What one call of :meth:`Linker.link` cost and found (for benchmarks and logs)."""

    track_id: str
    gated: int = 0
    searched: int = 0
    refits: int = 0
    linked_to: str | None = None
    merged: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


class Linker:
    """The provisional catalogue and the linking of tracklets into it (module docstring)."""

    def __init__(self, settings: LinkerSettings = LinkerSettings()) -> None:
        self.settings = settings
        self._objects: dict[str, ProvisionalObject] = {}
        self._next_number = 1
        self._latest_s = -math.inf
        self._owner: dict[str, str] = {}  # track id -> uct id, of the kept objects
        # Derived from the tracklets, rebuilt on demand (never part of the state).
        self._observations: dict[str, AngleObservations] = {}
        self._regions: dict[str, AdmissibleRegion] = {}
        self.last_attempt: LinkAttempt | None = None

    # ------------------------------------------------------------------ queries

    @property
    def objects(self) -> list[ProvisionalObject]:
        """The objects kept, in the order they were opened."""
        return list(self._objects.values())

    def __len__(self) -> int:
        return len(self._objects)

    @property
    def objects_opened(self) -> int:
        """How many objects were ever opened (kept, expired or dropped)."""
        return self._next_number - 1

    def get(self, uct_id: str) -> ProvisionalObject | None:
        return self._objects.get(uct_id)

    def owner_of(self, track_id: str) -> str | None:
        """The object a track was linked to (among those kept)."""
        return self._owner.get(track_id)

    # ------------------------------------------------------------------ linking

    def link(self, tracklet: Tracklet) -> list[ProvisionalObject]:
        """Take one tracklet; returns the objects that changed (the one it joined or opened,
        and any that expired meanwhile). A tracklet already linked changes nothing."""
        import time

        clock = time.perf_counter
        attempt = LinkAttempt(tracklet.track_id)
        self.last_attempt = attempt
        if tracklet.track_id in self._owner:
            return []
        started = clock()
        changed = self._expire(tracklet.last_time_unix_s)
        obs = self._observations_of(tracklet)
        own = self._determine(obs)
        attempt.seconds["determine"] = clock() - started

        started = clock()
        candidates = self._gate_candidates(tracklet, obs)
        attempt.gated = len(candidates)
        attempt.seconds["gate"] = clock() - started
        started = clock()
        gated = {c.uct_id for c in candidates}
        searched = self._search_candidates(tracklet, obs, own, gated)
        attempt.searched = len({c.uct_id for c in searched})
        candidates += searched
        attempt.seconds["search"] = clock() - started

        started = clock()
        candidates.sort(key=lambda c: (c.score, self._objects[c.uct_id].number))
        best: _Link | None = None
        for candidate in candidates[: self.settings.max_refits]:
            if best is not None and candidate.uct_id == best.uct_id:
                continue
            attempt.refits += 1
            link = self._refine(candidate, tracklet, obs)
            if link is not None and (best is None or link.increase < best.increase):
                best = link
        attempt.seconds["refine"] = clock() - started

        started = clock()
        if best is not None:
            updated = self._join(best, tracklet)
            attempt.seconds["update"] = clock() - started
            started = clock()
            merged = self._merge_others(updated)
            attempt.merged = sum(1 for obj in merged if obj.merged_into is not None)
            attempt.seconds["merge"] = clock() - started
            started = clock()
            changed += merged or [updated]
            attempt.linked_to = self._owner[tracklet.track_id]
        else:
            changed.append(self._open(tracklet, obs, own))
        changed += self._bound()
        attempt.seconds["update"] = attempt.seconds.get("update", 0.0) + clock() - started
        return changed

    def _observations_of(self, tracklet: Tracklet) -> AngleObservations:
        obs = self._observations.get(tracklet.track_id)
        if obs is None:
            obs = tracklet.observations()
            self._observations[tracklet.track_id] = obs
        return obs

    def _all_observations(self, tracklets: Iterable[Tracklet]) -> AngleObservations:
        return AngleObservations.concatenate([self._observations_of(t) for t in tracklets])

    def _region_of(self, tracklet: Tracklet) -> AdmissibleRegion:
        region = self._regions.get(tracklet.track_id)
        if region is None:
            att = attributable(self._observations_of(tracklet))
            region = admissible_region(att, self.settings.determination.region)
            self._regions[tracklet.track_id] = region
        return region

    def _determine(self, obs: AngleObservations) -> ProvisionalOrbit | str:
        """The tracklet's own orbit, or the reason it has none."""
        settings = self.settings.determination
        if len(obs) < settings.fit.min_observations:
            return f"{len(obs)} observations are too few for an orbit"
        result = determine_orbit(obs, settings)
        if not result.determined:
            return result.reason
        try:
            mean = fit_mean_elements(result.orbit, obs)
        except ValueError as error:
            return f"no mean elements for the tracklet's orbit: {error}"
        residuals = mean.residuals_arcsec
        chi2 = float(np.sum((residuals / obs.sigma_arcsec[:, None]) ** 2))
        return ProvisionalOrbit(
            elements=mean.elements,
            tle_elements=mean.tle_elements,
            covariance=mean.covariance,
            chi2=chi2,
            dof=2 * len(obs) - 6,
            rms_arcsec=float(mean.rms_arcsec),
            n_observations=len(obs),
            converged=mean.converged,
        )

    def _inflated(self, orbit: ProvisionalOrbit, since_s: float) -> ProvisionalOrbit:
        """The orbit with its phase variance widened for unmodelled drag ``since_s`` after
        the object was last seen (see ``drift_sigma_rev_day2``)."""
        s = self.settings
        if s.drift_sigma_rev_day2 == 0.0:
            return orbit
        if _perigee_height_km(orbit.elements) >= s.drag_height_km:
            return orbit
        days = abs(since_s) / SECONDS_PER_DAY
        drift = s.drift_sigma_rev_day2 * (0.25 if orbit.fits_bstar else 1.0)
        sigma_rad = 0.5 * drift * days * days * 2.0 * math.pi
        covariance = orbit.covariance.copy()
        covariance[5, 5] += sigma_rad * sigma_rad
        return replace(orbit, covariance=covariance)

    def _gate_candidates(self, tracklet: Tracklet, obs: AngleObservations) -> list[_Candidate]:
        middle = float(np.mean(obs.time_unix_s))
        ids, orbits = [], []
        for obj in self._objects.values():
            orbit = obj.orbit
            if orbit is None or obj.expired:
                continue
            if phase_sigma_rad(orbit, middle) > self.settings.max_phase_sigma_rad:
                continue
            ids.append(obj.uct_id)
            orbits.append(self._inflated(orbit, middle - obj.last_seen_s))
        if not ids:
            return []
        chi2, dof = gate_chi2(orbits, obs)
        threshold = chi_square_quantile(self.settings.gate_probability, dof)
        return [
            _Candidate(uct_id, "gate", float(value) / dof, elements=orbit.elements)
            for uct_id, orbit, value in zip(ids, orbits, chi2)
            if value <= threshold
        ]

    def _mean_motion_window(self, orbit: ProvisionalOrbit) -> tuple[float, float]:
        n = orbit.elements.mean_motion_rev_day * 2.0 * math.pi / SECONDS_PER_DAY
        half = max(
            self.settings.mean_motion_sigmas * orbit.mean_motion_sigma_rad_s,
            self.settings.mean_motion_floor * n,
        )
        return n - half, n + half

    def _search_candidates(
        self,
        tracklet: Tracklet,
        obs: AngleObservations,
        own: ProvisionalOrbit | str,
        gated: set[str],
    ) -> list[_Candidate]:
        s = self.settings
        middle = float(np.mean(obs.time_unix_s))
        if isinstance(own, ProvisionalOrbit):
            window = self._mean_motion_window(own)
        else:
            window = mean_motion_band_rad_s(self._region_of(tracklet), s.determination.region)
        if not np.all(np.isfinite(window)):
            return []
        found: list[_Candidate] = []
        for obj in self._objects.values():
            if obj.expired:
                continue
            if obj.uct_id in gated:
                continue
            if (
                obj.orbit is not None
                and len(obj.tracklets) >= s.trust_gate_after_tracklets
                and phase_sigma_rad(obj.orbit, middle) <= s.max_phase_sigma_rad
            ):
                continue  # its gate's answer stands
            latest = obj.tracklets[-1]
            region = self._region_of(latest)
            if abs(middle - region.attributable.epoch_unix_s) > s.max_search_gap_s:
                continue
            low, high = window
            if obj.orbit is not None:
                own_low, own_high = self._mean_motion_window(obj.orbit)
            else:
                own_low, own_high = mean_motion_band_rad_s(region, s.determination.region)
            low, high = max(low, own_low), min(high, own_high)
            if not low < high:
                continue
            for candidate in region_candidates(
                region,
                obs,
                s.search,
                mean_motion_window_rad_s=(low, high),
                region_settings=s.determination.region,
            ):
                found.append(
                    _Candidate(
                        obj.uct_id,
                        "search",
                        candidate.chi2 / max(candidate.dof, 1),
                        epoch_unix_s=candidate.epoch_unix_s,
                        state=candidate.state,
                    )
                )
        return found

    def _refine(
        self, candidate: _Candidate, tracklet: Tracklet, obs: AngleObservations
    ) -> _Link | None:
        """The fit of the object's observations and the tracklet's, if it is good enough."""
        s = self.settings
        obj = self._objects[candidate.uct_id]
        kept = list(obj.tracklets[-(s.max_tracklets_per_object - 1) :]) + [tracklet]
        if candidate.kind == "gate":
            start = candidate.elements
        else:
            bstar = 0.0 if obj.orbit is None else obj.orbit.elements.bstar_per_earth_radius
            start = mean_elements_from_state(candidate.epoch_unix_s, candidate.state, bstar)
        if start is None:
            return None
        orbit = self._accepted_fit(start, kept, obs)
        if orbit is None:
            return None
        before = 0.0 if obj.orbit is None or candidate.kind == "search" else obj.orbit.chi2
        how = "gate" if candidate.kind == "gate" else "region search"
        return _Link(obj.uct_id, orbit, (orbit.chi2 - before) / (2 * len(obs)), how)

    def _join(self, link: _Link, tracklet: Tracklet) -> ProvisionalObject:
        s = self.settings
        obj = self._objects[link.uct_id]
        tracklets = (obj.tracklets + (tracklet,))[-s.max_tracklets_per_object :]
        orbit = link.orbit
        newest = float(np.mean(self._observations_of(tracklet).time_unix_s))
        if abs(newest - orbit.epoch_unix_s) > s.reepoch_after_s:
            moved = reepoch(orbit, newest)
            if moved is not None:
                refit = fit_elements(
                    moved, self._all_observations(tracklets), fit_bstar=orbit.fits_bstar
                )
                if refit.converged and refit.chi2 <= orbit.chi2 * 1.01 + 1.0:
                    orbit = refit
        for dropped in obj.tracklets[: len(obj.tracklets) + 1 - len(tracklets)]:
            self._forget(dropped.track_id)
        updated = replace(
            obj,
            tracklets=tracklets,
            track_ids=obj.track_ids + (tracklet.track_id,),
            sensors=tuple(sorted(set(obj.sensors) | {tracklet.sensor_id})),
            n_observations=obj.n_observations + len(tracklet.times),
            first_seen_s=min(obj.first_seen_s, tracklet.first_time_unix_s),
            last_seen_s=max(obj.last_seen_s, tracklet.last_time_unix_s),
            orbit=orbit,
            reason=(
                f"{len(obj.track_ids) + 1} tracks linked ({link.how}); SGP4 fit to "
                f"{orbit.n_observations} observations: {orbit.rms_arcsec:.2f} arcsec RMS"
            ),
            revision=obj.revision + 1,
            range_km=None,
        )
        self._objects[obj.uct_id] = updated
        self._owner[tracklet.track_id] = obj.uct_id
        return updated

    def _open(
        self, tracklet: Tracklet, obs: AngleObservations, own: ProvisionalOrbit | str
    ) -> ProvisionalObject:
        number = self._next_number
        self._next_number += 1
        uct_id = f"UCT-{number}"
        if isinstance(own, ProvisionalOrbit):
            orbit, reason, extent = own, f"one track: {own.rms_arcsec:.2f} arcsec RMS", None
        else:
            region = self._region_of(tracklet)
            low, high = region.range_interval_km
            extent = None if not np.isfinite(low) else (float(low), float(high))
            orbit, reason = None, f"one track, no orbit: {own}"
        obj = ProvisionalObject(
            uct_id=uct_id,
            number=number,
            tracklets=(tracklet,),
            track_ids=(tracklet.track_id,),
            sensors=(tracklet.sensor_id,),
            n_observations=len(tracklet.times),
            first_seen_s=tracklet.first_time_unix_s,
            last_seen_s=tracklet.last_time_unix_s,
            orbit=orbit,
            reason=reason,
            range_km=extent,
        )
        self._objects[uct_id] = obj
        self._owner[tracklet.track_id] = uct_id
        return obj

    # ------------------------------------------------------------------ merging

    def _merge_others(self, obj: ProvisionalObject) -> list[ProvisionalObject]:
        """Merge into one the objects that ``obj``'s orbit shows to be ``obj`` (step 5 of the
        module docstring); returns what changed (the absorbed objects, then the survivor),
        or nothing if no object was merged."""
        changed: list[ProvisionalObject] = []
        survivor = obj
        # One published change per object and link: _join counted obj's already.
        published = {obj.uct_id: obj.revision - 1}
        for _ in range(self.settings.max_merges_per_link):
            found = self._merge_candidate(survivor)
            if found is None:
                break
            published.setdefault(found[0].uct_id, found[0].revision)
            survivor, absorbed = self._merge(survivor, *found)
            changed.append(absorbed)
        if not changed:
            return []
        changed = [replace(o, revision=published[o.uct_id] + 1) for o in changed + [survivor]]
        self._objects[survivor.uct_id] = changed[-1]
        return changed

    def _merge_candidate(
        self, obj: ProvisionalObject
    ) -> tuple[ProvisionalObject, ProvisionalOrbit, tuple[Tracklet, ...]] | None:
        """The other object that is ``obj`` (the best such), the orbit fitted to both and
        the tracklets it kept. Both ways are gated: ``obj``'s orbit against the others'
        tracklets, and the others' orbits against ``obj``'s tracklets (an object seen long
        ago may have the better orbit)."""
        s = self.settings
        own = self._all_observations(obj.tracklets)
        own_middle = float(np.mean(own.time_unix_s))
        others, sets = [], []
        for other in self._objects.values():
            if other.uct_id == obj.uct_id or other.expired:
                continue
            if None not in (obj.norad_id, other.norad_id) and obj.norad_id != other.norad_id:
                continue
            others.append(other)
            sets.append(self._all_observations(other.tracklets))
        passed: list[tuple[float, int, ProvisionalObject, ProvisionalObject]] = []
        # obj's orbit predicts the others' tracklets ...
        if obj.orbit is not None:
            near = [
                k
                for k, observations in enumerate(sets)
                if phase_sigma_rad(obj.orbit, float(np.mean(observations.time_unix_s)))
                <= s.max_phase_sigma_rad
            ]
            chi2, dof = gate_chi2_of_sets(obj.orbit, [sets[k] for k in near])
            threshold = chi_square_quantile(s.gate_probability, dof)
            passed += [
                (float(value) / float(d), others[k].number, obj, others[k])
                for k, value, d, limit in zip(near, chi2, dof, threshold)
                if value <= limit
            ]
        # ... or another's orbit predicts obj's.
        near = [
            k
            for k, other in enumerate(others)
            if other.orbit is not None
            and phase_sigma_rad(other.orbit, own_middle) <= s.max_phase_sigma_rad
        ]
        if near:
            orbits = [
                self._inflated(others[k].orbit, own_middle - others[k].last_seen_s) for k in near
            ]
            chi2, dof = gate_chi2(orbits, own)
            threshold = chi_square_quantile(s.gate_probability, dof)
            passed += [
                (float(value) / dof, others[k].number, others[k], others[k])
                for k, value in zip(near, chi2)
                if value <= threshold
            ]
        tried: set[str] = set()
        for _, _, start, other in sorted(passed, key=lambda p: (p[0], p[1])):
            if other.uct_id in tried or len(tried) >= s.max_refits:
                continue
            tried.add(other.uct_id)
            fit = self._merged_fit(obj, other, start)
            if fit is not None:
                return (other, *fit)
        return None

    def _merged_fit(
        self, obj: ProvisionalObject, other: ProvisionalObject, start: ProvisionalObject
    ) -> tuple[ProvisionalOrbit, tuple[Tracklet, ...]] | None:
        """One orbit over both objects' kept tracklets, fitted from ``start``'s orbit, if it
        passes as a link's fit must (the other object's tracklets' share too)."""
        s = self.settings
        tracklets = tuple(
            sorted(obj.tracklets + other.tracklets, key=lambda t: t.first_time_unix_s)
        )[-s.max_tracklets_per_object :]
        orbit = start.orbit
        assert orbit is not None
        gated = other if start is obj else obj
        observations = self._all_observations(gated.tracklets)
        fit = self._accepted_fit(orbit.elements, tracklets, observations, orbit.fits_bstar)
        return None if fit is None else (fit, tracklets)

    def _accepted_fit(
        self,
        start: MeanElements,
        tracklets: Sequence[Tracklet],
        share: AngleObservations,
        fit_bstar: bool = False,
    ) -> ProvisionalOrbit | None:
        """SGP4 mean elements fitted from ``start`` to the tracklets' observations, if the
        fit passes: its chi-square over all of them, and over ``share`` (the observations
        being added) alone, within ``fit_probability``, and a plausible B*. B* is fitted too
        (besides when ``fit_bstar``) for a low orbit seen over three tracklets and
        ``bstar_after_s``, and left out again when that fit drives it past
        ``max_bstar_per_earth_radius``."""
        s = self.settings
        both = self._all_observations(tracklets)
        drag_shows = (
            len(tracklets) >= 3
            and both.span_s >= s.bstar_after_s
            and _perigee_height_km(start) < s.drag_height_km
        )
        fit = self._fit_within_bounds(start, both, fit_bstar or drag_shows)
        if fit is None and drag_shows and not fit_bstar:
            # No usable fit with B*, typically B* driven beyond any object's: drag did not
            # show after all (an eccentric orbit meets the air only at perigee, seen from far
            # off), so the fit without it.
            fit = self._fit_within_bounds(start, both, False)
        if fit is None or fit.chi2 > chi_square_quantile(s.fit_probability, fit.dof):
            return None
        if observation_chi2(fit, share) > chi_square_quantile(s.fit_probability, 2 * len(share)):
            return None
        return fit

    def _fit_within_bounds(
        self, start: MeanElements, observations: AngleObservations, fit_bstar: bool
    ) -> ProvisionalOrbit | None:
        """The fit from ``start``, if it is usable: finite, with a covariance, and a B* that
        some object has."""
        try:
            fit = fit_elements(start, observations, fit_bstar=fit_bstar)
        except ValueError:
            return None
        if not fit.converged:  # carry on from where it stopped, once
            fit = fit_elements(fit.elements, observations, fit_bstar=fit_bstar)
        if fit.dof <= 0 or not (np.isfinite(fit.chi2) and fit.has_covariance):
            return None
        if abs(fit.elements.bstar_per_earth_radius) > self.settings.max_bstar_per_earth_radius:
            return None
        return fit

    def _merge(
        self,
        obj: ProvisionalObject,
        other: ProvisionalObject,
        orbit: ProvisionalOrbit,
        tracklets: tuple[Tracklet, ...],
    ) -> tuple[ProvisionalObject, ProvisionalObject]:
        """The merged object (under the older id, with ``orbit`` fitted to ``tracklets``)
        and the absorbed one's last state."""
        older, younger = sorted((obj, other), key=lambda o: o.number)
        kept = {t.track_id for t in tracklets}
        for tracklet in obj.tracklets + other.tracklets:
            if tracklet.track_id not in kept:
                self._forget(tracklet.track_id)
        track_ids = older.track_ids + younger.track_ids
        survivor = replace(
            older,
            tracklets=tracklets,
            track_ids=track_ids,
            sensors=tuple(sorted(set(older.sensors) | set(younger.sensors))),
            n_observations=older.n_observations + younger.n_observations,
            first_seen_s=min(older.first_seen_s, younger.first_seen_s),
            last_seen_s=max(older.last_seen_s, younger.last_seen_s),
            orbit=orbit,
            reason=(
                f"{len(track_ids)} tracks linked ({younger.uct_id} merged: one orbit fits "
                f"both); SGP4 fit to {orbit.n_observations} observations: "
                f"{orbit.rms_arcsec:.2f} arcsec RMS"
            ),
            revision=older.revision + 1,
            norad_id=older.norad_id if older.norad_id is not None else younger.norad_id,
            range_km=None,
        )
        absorbed = replace(
            younger,
            merged_into=older.uct_id,
            reason=f"merged into {older.uct_id}: one orbit fits both",
            revision=younger.revision + 1,
        )
        del self._objects[younger.uct_id]
        self._objects[older.uct_id] = survivor
        for track_id in track_ids:
            self._owner[track_id] = older.uct_id
        return survivor, absorbed

    # ------------------------------------------------------------------ bounds

    def _forget(self, track_id: str) -> None:
        self._observations.pop(track_id, None)
        self._regions.pop(track_id, None)

    def _drop(self, uct_id: str) -> ProvisionalObject:
        obj = self._objects.pop(uct_id)
        for track_id in obj.track_ids:
            if self._owner.get(track_id) == uct_id:
                del self._owner[track_id]
        for tracklet in obj.tracklets:
            self._forget(tracklet.track_id)
        return replace(obj, expired=True, revision=obj.revision + 1)

    def _expire(self, now_s: float) -> list[ProvisionalObject]:
        self._latest_s = max(self._latest_s, float(now_s))
        cutoff = self._latest_s - self.settings.expire_after_s
        stale = [k for k, obj in self._objects.items() if obj.last_seen_s < cutoff]
        return [self._drop(k) for k in stale]

    def _bound(self) -> list[ProvisionalObject]:
        excess = len(self._objects) - self.settings.max_objects
        if excess <= 0:
            return []
        oldest = sorted(self._objects.values(), key=lambda o: (o.last_seen_s, o.number))
        return [self._drop(o.uct_id) for o in oldest[:excess]]

    def expire(self, now_unix_s: float) -> list[ProvisionalObject]:
        """Advance event time to ``now_unix_s`` (it never goes back) and drop the objects
        unseen for ``expire_after_s``; returns them, marked expired."""
        return self._expire(now_unix_s)

    # ------------------------------------------------------------------ identification

    def identify(self, element_sets: Catalogue) -> list[ProvisionalObject]:
        """Objects that match one of ``element_sets`` (e.g. newly published TLEs), now
        identified with its NORAD id; see :mod:`.identify`."""
        candidates = [o for o in self._objects.values() if o.norad_id is None]
        if not candidates or len(element_sets) == 0:
            return []
        matches = identify_objects(
            [self._all_observations(o.tracklets) for o in candidates],
            [o.orbit for o in candidates],
            element_sets,
            self.settings.identify,
        )
        changed = []
        for obj, match in zip(candidates, matches):
            if match is None:
                continue
            updated = replace(
                obj,
                norad_id=match.norad_id,
                reason=f"identified as NORAD {match.norad_id}: {match.describe()}",
                revision=obj.revision + 1,
            )
            self._objects[obj.uct_id] = updated
            changed.append(updated)
        return changed

    # ------------------------------------------------------------------ state

    def to_bytes(self) -> bytes:
        """The whole state (objects, next number, event time), deterministic; see
        :meth:`from_bytes`."""
        state = {
            "magic": STATE_MAGIC,
            "next_number": self._next_number,
            "latest_s": None if self._latest_s == -math.inf else self._latest_s,
            "objects": [o.to_dict() for o in self._objects.values()],
        }
        text = json.dumps(state, separators=(",", ":"), sort_keys=True)
        return zlib.compress(text.encode(), 6)

    @classmethod
    def from_bytes(cls, data: bytes, settings: LinkerSettings = LinkerSettings()) -> Linker:
        """A linker restored from :meth:`to_bytes`; ``ValueError`` for other bytes."""
        try:
            state = json.loads(zlib.decompress(data).decode())
        except (zlib.error, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"not an orbitlink linker state ({error})") from None
        if not isinstance(state, dict) or state.get("magic") != STATE_MAGIC:
            raise ValueError("not an orbitlink linker state (bad magic)")
        linker = cls(settings)
        linker._next_number = int(state["next_number"])
        latest = state["latest_s"]
        linker._latest_s = -math.inf if latest is None else float(latest)
        for item in state["objects"]:
            obj = ProvisionalObject.from_dict(item)
            linker._objects[obj.uct_id] = obj
            for track_id in obj.track_ids:
                linker._owner[track_id] = obj.uct_id
        return linker

"""The pieces of UCT linking on real orbits: tracklet records, the admissible-region search
across passes, the SGP4 gate and fit, and the region of a camera looking down on a lower
satellite.

The truth is sgp4 of real TLEs of the 2026-05-30 snapshot; observations are what
``predict_sky`` says the sensor sees (astrometric, light time included) plus Gaussian noise.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.stats import chi2

from orbitlink.tracking.catalogue import Catalogue, element_set_from_tle
from orbitlink.tracking.linking.orbits import (
    fit_elements,
    gate_chi2,
    mean_elements_from_state,
)
from orbitlink.tracking.linking.region import RegionSearchSettings, region_candidates
from orbitlink.tracking.linking.secular import secular_j2_states
from orbitlink.tracking.models import Sensor
from orbitlink.tracking.orbit.admissible import admissible_region, attributable
from orbitlink.tracking.orbit.angles import AngleObservations, simulate_observations
from orbitlink.tracking.orbit.determine import determine_orbit
from orbitlink.tracking.orbit.tle import sgp4_gcrs, sgp4_residuals_arcsec
from orbitlink.tracking.predict import predict_sky
from orbitlink.tracking.tracklets import Tracklet

T0 = datetime(2026, 5, 31, 0, 0, tzinfo=UTC).timestamp()
CTIO = Sensor(sensor_id="ctio", lat_deg=-30.1690, lon_deg=-70.8063, alt_m=2207.0, sigma_arcsec=2)
TEIDE = Sensor(sensor_id="teide", lat_deg=28.3008, lon_deg=-16.5117, alt_m=2390.0, sigma_arcsec=3)
ISS, ONEWEB, GOES16, NEOSSAT = 25544, 44057, 41866, 39089


@pytest.fixture(scope="module")
def catalogue(catalog_dir: Path) -> Catalogue:
    return Catalogue.from_path(catalog_dir)


def visible_start(catalogue, norad, sensor, after, duration_s) -> float:
    """First time after ``after`` from which the object stays in view (and sunlit) for the
    duration: above 25 deg from the ground, clear of the Earth from orbit."""
    grid = after + np.arange(0.0, 2 * 86400.0, 10.0)
    sky = predict_sky(catalogue, sensor, grid, index=catalogue.index_of([norad]))
    ok = sky.above_horizon[0] & sky.sunlit[0]
    if not sensor.is_space_based:
        ok &= sky.elevation_deg[0] > 25.0
    run = int(np.ceil(duration_s / 10.0)) + 1
    window = np.convolve(ok.astype(int), np.ones(run, dtype=int), mode="valid") == run
    assert window.any(), f"NORAD {norad} never in view for {duration_s} s"
    return float(grid[np.argmax(window)])


def tracklet_obs(catalogue, norad, sensor, start, duration_s, seed, count=8):
    times = start + np.linspace(0.0, duration_s, count)
    rng = np.random.default_rng(seed)
    return simulate_observations(catalogue, norad, sensor, times, sensor.sigma_arcsec, rng)


def truth_state(catalogue, norad, time_s) -> np.ndarray:
    satrec = catalogue.satrecs[int(catalogue.index_of([norad])[0])]
    _, r, v = sgp4_gcrs([satrec], [time_s])
    return np.concatenate([r[0, 0], v[0, 0]])


# ----------------------------------------------------------------------------- tracklets


def test_a_tracklet_is_a_flat_record_that_reads_back_to_the_same_observations(catalogue):
    obs = tracklet_obs(
        catalogue, GOES16, CTIO, visible_start(catalogue, GOES16, CTIO, T0, 600), 600, 1
    )
    tracklet = Tracklet.from_arrays("ctio-000007", CTIO, obs.time_unix_s, obs.ra_deg, obs.dec_deg)
    data = json.loads(tracklet.to_json())
    assert data["sensor"]["sensor_id"] == "ctio" and data["times"][0].endswith("Z")
    assert (
        len(data["ra_deg"]) == 8
        and data["n_detections"] == 8
        and data["runner_up_norad_id"] is None
    )
    again = Tracklet.model_validate_json(tracklet.to_json())
    assert again == tracklet
    back = again.observations()
    # Times to the microsecond, the angles exactly: the linker sees the same numbers offline
    # and after the record crossed a topic.
    assert np.max(np.abs(back.time_unix_s - obs.time_unix_s)) < 1e-6
    assert np.array_equal(back.ra_deg, obs.ra_deg) and np.array_equal(back.dec_deg, obs.dec_deg)
    assert np.allclose(back.observer_gcrs_km, obs.observer_gcrs_km, atol=1e-5)


def test_bad_tracklets_are_refused():
    times = T0 + np.arange(4.0)
    good = Tracklet.from_arrays("t", CTIO, times, [1, 2, 3, 4], [0, 0, 0, 0])
    data = json.loads(good.to_json())
    for change, message in [
        ({"ra_deg": [1, 2, 3]}, "ra_deg has 3 values"),
        ({"times": data["times"][::-1]}, "time order"),
        ({"sensor_id": "teide"}, "differs from sensor_id"),
        (
            {
                "times": data["times"][:2],
                "ra_deg": [1, 2],
                "dec_deg": [0, 0],
                "sigma_arcsec": [2, 2],
            },
            "at least 3",
        ),
        ({"n_detections": 3}, "n_detections"),
    ]:
        with pytest.raises(ValidationError, match=message):
            Tracklet.model_validate({**data, **change})


# ----------------------------------------------------------------------------- dynamics


def test_the_search_dynamics_stay_within_kilometres_of_sgp4_for_a_day(catalogue):
    """Two-body motion misses by hundreds of km after six hours; with J2's secular drift and
    the mean semi-major axis the search's propagator stays within its model error."""
    for norad in (ISS, ONEWEB, GOES16):
        state = truth_state(catalogue, norad, T0)
        later = T0 + np.array([6 * 3600.0, 86400.0])
        r, _ = secular_j2_states(state[None], T0, later)
        truth = np.array([truth_state(catalogue, norad, t)[:3] for t in later])
        assert np.all(np.linalg.norm(r[0] - truth, axis=1) < 30.0), norad


# ------------------------------------------------------------------------ region search


@pytest.mark.parametrize(
    ("norad", "duration_s", "first", "second", "gap_s", "revolutions"),
    [
        (GOES16, 600.0, CTIO, CTIO, 23 * 3600.0, 1),  # GEO, ten minutes, a night apart
        (ISS, 20.0, CTIO, CTIO, 20 * 3600.0, 15),  # twenty seconds of the ISS, 15 revs apart
        (ONEWEB, 20.0, CTIO, TEIDE, 5 * 3600.0, 5),  # another site, hours later
    ],
)
def test_the_admissible_region_search_finds_the_orbit_through_a_later_tracklet(
    catalogue, norad, duration_s, first, second, gap_s, revolutions
):
    a_start = visible_start(catalogue, norad, first, T0, duration_s)
    b_start = visible_start(catalogue, norad, second, a_start + gap_s, duration_s)
    a = tracklet_obs(catalogue, norad, first, a_start, duration_s, 1)
    b = tracklet_obs(catalogue, norad, second, b_start, duration_s, 2)
    assert not determine_orbit(a).determined  # too short: the region is all there is
    region = admissible_region(attributable(a))
    candidates = region_candidates(region, b)
    assert candidates, "no orbit through both tracklets"
    best = candidates[0]
    assert round(best.revolutions) == revolutions
    truth = truth_state(catalogue, norad, best.epoch_unix_s)
    # The search's dynamics are kilometres off, so is its answer; the fit then settles it.
    assert np.linalg.norm(best.state[:3] - truth[:3]) < 60.0
    both = AngleObservations.concatenate([a, b])
    orbit = fit_elements(mean_elements_from_state(best.epoch_unix_s, best.state), both)
    assert orbit.chi2 < chi2.ppf(0.9999, orbit.dof)
    assert orbit.rms_arcsec < 1.5 * max(first.sigma_arcsec, second.sigma_arcsec)
    r, _, _ = orbit.gcrs_state(best.epoch_unix_s)
    assert np.linalg.norm(r - truth[:3]) < 5.0


def test_a_wrong_number_of_revolutions_does_not_fit_both_tracklets(catalogue):
    """Screened loosely, the GEO search also finds orbits making two or three revolutions
    between the nights; they reach the second tracklet but do not fit both tracklets."""
    a_start = visible_start(catalogue, GOES16, CTIO, T0, 600.0)
    b_start = visible_start(catalogue, GOES16, CTIO, a_start + 23 * 3600.0, 600.0)
    a = tracklet_obs(catalogue, GOES16, CTIO, a_start, 600.0, 1)
    b = tracklet_obs(catalogue, GOES16, CTIO, b_start, 600.0, 2)
    loose = RegionSearchSettings(max_chi2_per_dof=1e6, candidates=8)
    candidates = region_candidates(admissible_region(attributable(a)), b, loose)
    wrong = [c for c in candidates if round(c.revolutions) != 1]
    assert wrong, "the search should see the other revolution counts"
    both = AngleObservations.concatenate([a, b])
    for candidate in wrong:
        orbit = fit_elements(
            mean_elements_from_state(candidate.epoch_unix_s, candidate.state), both
        )
        assert orbit.chi2 > chi2.ppf(0.9999, orbit.dof)


# ------------------------------------------------------------------------ gate and fit


def test_the_gate_passes_the_object_and_refuses_its_neighbour(catalogue):
    """A two-night GEO orbit gates the third night's tracklet of its own object, and refuses
    that of another GEO object seen in the same survey field's neighbourhood."""
    starts = [visible_start(catalogue, GOES16, CTIO, T0, 900.0)]
    for _ in range(2):
        starts.append(visible_start(catalogue, GOES16, CTIO, starts[-1] + 20 * 3600.0, 900.0))
    tracks = [tracklet_obs(catalogue, GOES16, CTIO, s, 900.0, k) for k, s in enumerate(starts)]
    first = determine_orbit(AngleObservations.concatenate(tracks[:1]))
    seed = (
        first.orbit.state
        if first.determined
        else region_candidates(admissible_region(attributable(tracks[0])), tracks[1])[0].state
    )
    epoch = first.orbit.epoch_unix_s if first.determined else attributable(tracks[0]).epoch_unix_s
    orbit = fit_elements(
        mean_elements_from_state(epoch, seed), AngleObservations.concatenate(tracks[:2])
    )
    # Another GEO object: the one nearest GOES-16 on the sky at the third tracklet.
    sky = predict_sky(catalogue, CTIO, starts[2])
    geo = np.flatnonzero((sky.range_km > 35000) & (sky.range_km < 42000) & sky.above_horizon)
    own = int(catalogue.index_of([GOES16])[0])
    separation = np.hypot(sky.ra_deg[geo] - sky.ra_deg[own], sky.dec_deg[geo] - sky.dec_deg[own])
    separation[geo == own] = np.inf
    neighbour = int(catalogue.norad_ids[geo[np.argmin(separation)]])
    other = tracklet_obs(catalogue, neighbour, CTIO, starts[2], 900.0, 9)
    values, dof = gate_chi2([orbit, orbit], tracks[2])
    assert dof == 16 and values[0] < chi2.ppf(0.9999, dof)
    values, _ = gate_chi2([orbit], other)
    assert values[0] > 1e3 * chi2.ppf(0.9999, dof)


def test_the_emitted_tle_reproduces_the_linked_arc_within_its_residuals(catalogue):
    """Two ISS passes linked: the TLE's lines, read back like any element set, fit every
    observation of both passes as well as the fitted elements do (within 10%)."""
    a_start = visible_start(catalogue, ISS, CTIO, T0, 60.0)
    b_start = visible_start(catalogue, ISS, TEIDE, a_start + 3 * 3600.0, 60.0)
    a = tracklet_obs(catalogue, ISS, CTIO, a_start, 60.0, 3)
    b = tracklet_obs(catalogue, ISS, TEIDE, b_start, 60.0, 4)
    candidate = region_candidates(admissible_region(attributable(a)), b)[0]
    both = AngleObservations.concatenate([a, b])
    orbit = fit_elements(mean_elements_from_state(candidate.epoch_unix_s, candidate.state), both)
    line1, line2 = orbit.tle_elements.tle_lines(270001)
    assert line1.startswith("1 T0001U")
    element_set = element_set_from_tle("UCT-2", line1, line2)
    residuals = sgp4_residuals_arcsec(element_set.satrec, both)
    tle_rms = float(np.sqrt(np.mean(residuals**2)))
    assert tle_rms <= 1.1 * orbit.rms_arcsec + 0.05
    assert orbit.rms_arcsec < 1.5 * CTIO.sigma_arcsec * 1.5


# -------------------------------------------------------------------------- the region


def test_a_camera_above_the_atmosphere_keeps_ranges_in_front_of_the_earth(catalogue):
    """NEOSSAT (790 km) looking down at the ISS (420 km): the ISS is between the camera and the
    atmosphere. The region used to start where the line of sight leaves the atmosphere beyond
    the Earth's limb, which left the truth out."""
    camera = Sensor(
        sensor_id="neossat", tle=list(catalogue.lines[catalogue.index_of([NEOSSAT])[0]])
    )
    # A time when the line of sight from the camera through the ISS goes on into the
    # atmosphere's sphere (6478 km), that is, the ISS is seen against the Earth's disc.
    grid = T0 + np.arange(0.0, 2 * 86400.0, 10.0)
    host = catalogue.satrecs[int(catalogue.index_of([NEOSSAT])[0])]
    iss = catalogue.satrecs[int(catalogue.index_of([ISS])[0])]
    _, r, _ = sgp4_gcrs([host, iss], grid)
    q, line = r[0], r[1] - r[0]
    rho = np.linalg.norm(line, axis=1)
    u = line / rho[:, None]
    along = np.sum(q * u, axis=1)
    hits = along**2 + 6478.137**2 - np.sum(q * q, axis=1)
    against_earth = (along < 0.0) & (hits > 0.0) & (rho < 2500.0)
    assert against_earth.any()
    start = float(grid[np.argmax(against_earth)])
    obs = tracklet_obs(catalogue, ISS, camera, start, 20.0, 5)
    att = attributable(obs)
    region = admissible_region(att)
    truth = truth_state(catalogue, ISS, att.epoch_unix_s)
    rho = np.linalg.norm(truth[:3] - att.observer_gcrs_km)
    low, high = region.range_interval_km
    assert low <= rho <= high

"""Whole-catalogue sky prediction checked against Skyfield's own per-object answers.

Real TLEs from the shared snapshot (GEO, Starlink, OneWeb, stations, ...), a real observatory
site (Siding Spring) and a space-based sensor flying on a real TLE.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from skyfield.api import EarthSatellite, wgs84

from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.constants import EARTH_RADIUS_KM
from orbitlink.tracking.ephemeris import ephemeris
from orbitlink.tracking.models import FieldOfView, Sensor
from orbitlink.tracking.predict import (
    GridPropagator,
    SkyPrediction,
    SkyPredictor,
    frame_rotations,
    in_field_of_view,
    observer_state_gcrs_km,
    predict_sky,
    sun_altitude_deg,
)
from orbitlink.tracking.sky import angular_separation_deg
from orbitlink.tracking.times import timescale

T0 = datetime(2026, 5, 31, 12, 0, tzinfo=UTC).timestamp()  # night at Siding Spring
SITE = Sensor(sensor_id="siding-spring", lat_deg=-31.2733, lon_deg=149.0644, alt_m=1165.0)
ARCSEC = 1.0 / 3600.0


@pytest.fixture(scope="module")
def catalogue(catalog_dir: Path) -> Catalogue:
    return Catalogue.from_path(catalog_dir)


@pytest.fixture(scope="module")
def sample(catalogue: Catalogue) -> np.ndarray:
    """A few dozen objects across orbit regimes: GEO, Starlink, OneWeb and others."""
    rng = np.random.default_rng(7)
    names = np.array(catalogue.names)
    groups = [
        np.flatnonzero(np.char.startswith(names, "STARLINK")),
        np.flatnonzero(np.char.startswith(names, "ONEWEB")),
        np.flatnonzero(np.abs(catalogue_mean_motion(catalogue) - 1.0027) < 0.01),
        np.arange(len(catalogue)),
    ]
    picked = [rng.choice(group, 12, replace=False) for group in groups]
    picked.append(catalogue.index_of([25544]))  # ISS
    return np.unique(np.concatenate(picked))


def catalogue_mean_motion(catalogue: Catalogue) -> np.ndarray:
    return np.array([float(line2[52:63]) for _, line2 in catalogue.lines])


@pytest.fixture(scope="module")
def space_sensor(catalogue: Catalogue) -> Sensor:
    i = catalogue.index_of([25544])[0]
    return Sensor(sensor_id="iss-cam", tle=list(catalogue.lines[i]))


def skyfield_time(seconds: float):
    return timescale().from_datetime(datetime.fromtimestamp(seconds, UTC))


def skyfield_sat(catalogue: Catalogue, i: int) -> EarthSatellite:
    return EarthSatellite(*catalogue.lines[i], ts=timescale())


def skyfield_observer(sensor: Sensor):
    if sensor.tle is not None:
        return EarthSatellite(*sensor.tle, ts=timescale())
    return wgs84.latlon(sensor.lat_deg, sensor.lon_deg, elevation_m=sensor.alt_m)


def reference_radec(catalogue, sensor, index, seconds, light_time):
    """Skyfield, one object at a time: astrometric (observe) or geometric (difference)."""
    t = skyfield_time(seconds)
    earth = ephemeris()["earth"]
    observer = skyfield_observer(sensor)
    out = []
    for i in index:
        sat = skyfield_sat(catalogue, i)
        if light_time:
            ra, dec, distance = (earth + observer).at(t).observe(earth + sat).radec()
        else:
            ra, dec, distance = (sat - observer).at(t).radec()
        out.append((ra.degrees, dec.degrees, distance.km))
    return np.array(out).T


# ------------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("light_time", [True, False])
@pytest.mark.parametrize("which", ["ground", "space"])
def test_radec_matches_skyfield_to_an_arcsecond(catalogue, sample, space_sensor, which, light_time):
    sensor = SITE if which == "ground" else space_sensor
    prediction = predict_sky(catalogue, sensor, T0, sample, light_time=light_time)
    ra, dec, distance = reference_radec(catalogue, sensor, sample, T0, light_time)
    own = catalogue.norad_ids[sample] == 25544
    if which == "space":  # the sensor's own element set has no direction
        assert not prediction.valid[own].any()
        keep = ~own
    else:
        keep = np.ones(len(sample), dtype=bool)
    assert prediction.valid[keep].all()
    error = angular_separation_deg(prediction.ra_deg, prediction.dec_deg, ra, dec)[keep]
    assert error.max() <= 1.0 * ARCSEC, f"max error {error.max() * 3600:.4f} arcsec"
    np.testing.assert_allclose(prediction.range_km[keep], distance[keep], atol=1e-3)  # 1 m


def test_light_time_matters_at_arcsecond_level(catalogue, sample):
    # The reason the option exists: LEO objects move several arcsec during the light time.
    astrometric = predict_sky(catalogue, SITE, T0, sample)
    geometric = predict_sky(catalogue, SITE, T0, sample, light_time=False)
    shift = angular_separation_deg(
        astrometric.ra_deg, astrometric.dec_deg, geometric.ra_deg, geometric.dec_deg
    )
    # tens of arcsec at most; a few arcsec typically (the direction of motion decides)
    assert np.median(shift) > 5 * ARCSEC and np.all(shift < 60 * ARCSEC)


@pytest.mark.parametrize("which", ["ground", "space"])
def test_rates_match_finite_differences_of_skyfield(catalogue, sample, space_sensor, which):
    sensor = SITE if which == "ground" else space_sensor
    subset = sample[catalogue.norad_ids[sample] != 25544][:20]
    prediction = predict_sky(catalogue, sensor, T0, subset)
    h = 0.5
    ra0, dec0, _ = reference_radec(catalogue, sensor, subset, T0 - h, True)
    ra1, dec1, _ = reference_radec(catalogue, sensor, subset, T0 + h, True)
    d_ra = (ra1 - ra0 + 180.0) % 360.0 - 180.0
    ra_rate = d_ra / (2 * h) * np.cos(np.radians(prediction.dec_deg))
    dec_rate = (dec1 - dec0) / (2 * h)
    speed = np.hypot(ra_rate, dec_rate)
    tolerance = 1e-4 * speed + 0.01 * ARCSEC  # 0.01 %, or 0.01 arcsec/s for slow GEO
    assert np.all(np.abs(prediction.ra_rate_deg_s - ra_rate) <= tolerance)
    assert np.all(np.abs(prediction.dec_rate_deg_s - dec_rate) <= tolerance)


def test_many_times_at_once_equal_one_at_a_time(catalogue, sample):
    times = T0 + np.array([0.0, 37.5, 600.0])
    many = predict_sky(catalogue, SITE, times, sample)
    assert many.ra_deg.shape == (len(sample), 3) and many.time_unix_s.shape == (3,)
    for k, seconds in enumerate(times):
        one = predict_sky(catalogue, SITE, seconds, sample)
        assert one.ra_deg.shape == (len(sample),)
        np.testing.assert_allclose(many.ra_deg[:, k], one.ra_deg, atol=1e-9)
        np.testing.assert_allclose(many.dec_rate_deg_s[:, k], one.dec_rate_deg_s, atol=1e-12)
        np.testing.assert_array_equal(many.sunlit[:, k], one.sunlit)


def test_long_time_arrays_are_processed_in_blocks(catalogue, sample, monkeypatch):
    times = T0 + np.arange(7) * 60.0
    whole = predict_sky(catalogue, SITE, times, sample)
    monkeypatch.setattr("orbitlink.tracking.predict.BLOCK_OBJECT_TIMES", 2 * len(sample))
    blocked = predict_sky(catalogue, SITE, times, sample)  # 4 blocks of 2, 2, 2, 1 times
    for name in ("ra_deg", "dec_rate_deg_s", "range_km", "elevation_deg"):
        np.testing.assert_array_equal(getattr(blocked, name), getattr(whole, name))
    np.testing.assert_array_equal(blocked.visible(), whole.visible())
    assert blocked.ra_deg.shape == (len(sample), 7)


def test_subset_equals_whole_catalogue_rows(catalogue, sample):
    whole = predict_sky(catalogue, SITE, T0)
    part = predict_sky(catalogue, SITE, T0, sample)
    assert len(whole) == len(catalogue)
    np.testing.assert_array_equal(part.norad_ids, catalogue.norad_ids[sample])
    np.testing.assert_allclose(part.ra_deg, whole.ra_deg[sample], atol=1e-9)
    picked = whole.select(sample)
    np.testing.assert_array_equal(picked.index, sample)
    np.testing.assert_allclose(picked.range_km, part.range_km)
    mask = np.zeros(len(catalogue), dtype=bool)
    mask[sample] = True
    np.testing.assert_array_equal(predict_sky(catalogue, SITE, T0, mask).index, sample)


def test_bucketed_frame_rotations_match_skyfield_at_each_time():
    from skyfield.framelib import itrs
    from skyfield.sgp4lib import TEME

    # offsets reach both ends of a 60 s bucket, where the extrapolated Earth rotation is worst
    times = T0 + np.array([-29.999, 0.0, 12.5, 29.999, 30.001, 3600.0 * 5 + 0.3])
    teme_to_gcrs, gcrs_to_itrs = frame_rotations(times)
    assert teme_to_gcrs.shape == gcrs_to_itrs.shape == (len(times), 3, 3)
    for k, seconds in enumerate(times):
        t = skyfield_time(seconds)
        # 1e-10 rad is 0.02 milliarcsec, or 0.6 mm at the Earth's surface
        np.testing.assert_allclose(gcrs_to_itrs[k], itrs.rotation_at(t), atol=1e-10)
        np.testing.assert_allclose(teme_to_gcrs[k], TEME.rotation_at(t).T, atol=1e-10)


def test_observer_state_matches_skyfield(space_sensor):
    t = skyfield_time(T0)
    for sensor in (SITE, space_sensor):
        position, velocity = observer_state_gcrs_km(sensor, T0)
        reference = skyfield_observer(sensor).at(t)
        np.testing.assert_allclose(position, reference.position.km, atol=1e-3)
        np.testing.assert_allclose(velocity, reference.velocity.km_per_s, atol=1e-6)
    positions, velocities = observer_state_gcrs_km(SITE, [T0, T0 + 3600.0])
    assert positions.shape == velocities.shape == (2, 3)
    # a ground site turns with the Earth: speed = sidereal rate x distance from the axis
    itrs_km = skyfield_observer(SITE).itrs_xyz.km
    expected = 7.2921150e-5 * np.hypot(itrs_km[0], itrs_km[1])
    np.testing.assert_allclose(np.linalg.norm(velocities, axis=-1), expected, rtol=1e-4)
    assert np.linalg.norm(positions[1] - positions[0]) > 1000.0


# ------------------------------------------------------------------------ grid propagator


def test_grid_propagator_matches_direct_sgp4(catalogue):
    grid = GridPropagator(catalogue, step_s=30.0)
    worst_arcsec = worst_rate = 0.0
    for offset in (0.0, 7.3, 29.99, 44.5, 61.0):  # on a node, inside, across two steps
        direct = predict_sky(catalogue, SITE, T0 + offset)
        cached = predict_sky(catalogue, SITE, T0 + offset, propagator=grid)
        np.testing.assert_array_equal(cached.valid, direct.valid)
        np.testing.assert_array_equal(cached.above_horizon, direct.above_horizon)
        seen = direct.valid & direct.above_horizon
        error = angular_separation_deg(
            cached.ra_deg, cached.dec_deg, direct.ra_deg, direct.dec_deg
        )[seen]
        rate = np.hypot(
            cached.ra_rate_deg_s - direct.ra_rate_deg_s,
            cached.dec_rate_deg_s - direct.dec_rate_deg_s,
        )[seen]
        worst_arcsec = max(worst_arcsec, error.max() / ARCSEC)
        worst_rate = max(worst_rate, rate.max() / ARCSEC)
    assert worst_arcsec < 0.05 and worst_rate < 0.05, (worst_arcsec, worst_rate)
    assert len(grid) == 4  # nodes at T0, +30, +60, +90 s
    # a subset interpolates the same nodes
    sample = np.arange(0, len(catalogue), 50)
    near = predict_sky(catalogue, SITE, T0 + 7.3, sample, propagator=grid)
    np.testing.assert_allclose(
        near.ra_deg, predict_sky(catalogue, SITE, T0 + 7.3, sample).ra_deg, atol=1e-4
    )
    with pytest.raises(ValueError, match="different catalogue"):
        predict_sky(catalogue.subset(sample), SITE, T0, propagator=grid)


def test_grid_propagator_subsets_are_the_whole_catalogue_rows(catalogue):
    """A sensor's candidates fill only their own rows of a node, and their prediction is the
    whole catalogue's, row for row and bit for bit, whatever was asked before."""
    sample = np.arange(3, len(catalogue), 37)
    other = np.arange(0, len(catalogue), 11)
    grid = GridPropagator(catalogue, step_s=30.0)
    first = predict_sky(catalogue, SITE, T0 + 44.5, sample, propagator=grid)
    assert len(grid) == 2
    predict_sky(catalogue, SITE, T0 + 50.0, other, propagator=grid)  # more rows, same nodes
    again = predict_sky(catalogue, SITE, T0 + 44.5, sample, propagator=grid)
    whole = predict_sky(catalogue, SITE, T0 + 44.5, propagator=GridPropagator(catalogue))
    assert_same_prediction(first, again)
    assert_same_prediction(first, whole.select(sample))


def test_grid_propagator_follows_catalogue_updates(catalogue):
    cat = catalogue.subset(np.arange(0, len(catalogue), 40))
    grid = GridPropagator(cat, step_s=30.0)
    before = predict_sky(cat, SITE, T0 + 5.0, propagator=grid)
    # a "newer" element set for object 0: the same elements with the epoch a day later
    line1, line2 = cat.lines[0]
    epoch = float(line1[18:32]) + 1.0
    line1 = line1[:18] + f"{epoch:014.8f}" + line1[32:68]
    line1 += str(sum(int(c) if c.isdigit() else c == "-" for c in line1) % 10)
    assert (
        cat.update(Catalogue.from_records([{"name": "moved", "line1": line1, "line2": line2}])) == 1
    )
    after = predict_sky(cat, SITE, T0 + 5.0, propagator=grid)
    direct = predict_sky(cat, SITE, T0 + 5.0)
    assert (
        angular_separation_deg(
            before.ra_deg[0], before.dec_deg[0], after.ra_deg[0], after.dec_deg[0]
        )
        > 0.1
    )
    np.testing.assert_allclose(after.ra_deg, direct.ra_deg, atol=1e-4)


# ------------------------------------------------------------------------ predictor


def assert_same_prediction(a: SkyPrediction, b: SkyPrediction) -> None:
    for field in fields(SkyPrediction):
        np.testing.assert_array_equal(getattr(a, field.name), getattr(b, field.name), field.name)


def test_predictor_frame_prediction_depends_only_on_time_and_catalogue(catalogue, sample):
    """The pipeline's determinism: whatever a predictor was asked before (other frames, other
    sensors, paths), its whole-catalogue prediction at a time is a fresh predictor's."""
    used = SkyPredictor(catalogue)
    space = Sensor(sensor_id="cam", tle=list(catalogue.lines[catalogue.index_of([25544])[0]]))
    for offset in (-400.0, 3.0, 95.0, 600.0, 900.0, 1200.0):  # 12 nodes, 8 kept: T0's evicted
        used.at(SITE, T0 + offset)
        used.at(space, T0 + offset)
    used.paths(SITE, sample, T0 + 20.0 + np.linspace(-60.0, 60.0, 9))
    fresh = SkyPredictor(catalogue)
    assert_same_prediction(used.at(SITE, T0 + 20.0), fresh.at(SITE, T0 + 20.0))
    # It is the grid propagator's interpolation, within its accuracy of direct sgp4.
    assert_same_prediction(
        fresh.at(SITE, T0 + 20.0),
        predict_sky(catalogue, SITE, T0 + 20.0, propagator=GridPropagator(catalogue)),
    )
    exact = SkyPredictor(catalogue, grid_step_s=None)
    assert exact.propagator is None
    assert_same_prediction(exact.at(SITE, T0 + 20.0), predict_sky(catalogue, SITE, T0 + 20.0))
    with pytest.raises(ValueError, match="one time"):
        fresh.at(SITE, [T0, T0 + 1.0])


def test_predictor_paths_are_direct_sgp4_even_with_nodes(catalogue, sample):
    predictor = SkyPredictor(catalogue)
    times = T0 + np.linspace(-20.0, 20.0, 5)  # within the two nodes of T0
    predictor.at(SITE, T0)
    assert len(predictor.propagator) == 2
    paths = predictor.paths(SITE, sample, times)
    assert paths.ra_deg.shape == (len(sample), len(times))
    assert_same_prediction(paths, predict_sky(catalogue, SITE, times, sample))
    position, velocity = predictor.observer_state_gcrs_km(SITE, times)
    expected = observer_state_gcrs_km(SITE, times)
    np.testing.assert_array_equal(position, expected[0])
    np.testing.assert_array_equal(velocity, expected[1])


def test_predictor_follows_catalogue_updates(catalogue):
    cat = catalogue.subset(np.arange(0, len(catalogue), 40))
    predictor = SkyPredictor(cat)
    before = predictor.at(SITE, T0 + 5.0)
    line1, line2 = cat.lines[0]  # the same elements with the epoch a day later
    epoch = float(line1[18:32]) + 1.0
    line1 = line1[:18] + f"{epoch:014.8f}" + line1[32:68]
    line1 += str(sum(int(c) if c.isdigit() else c == "-" for c in line1) % 10)
    cat.update(Catalogue.from_records([{"name": "moved", "line1": line1, "line2": line2}]))
    after = predictor.at(SITE, T0 + 5.0)
    assert after.ra_deg[0] != before.ra_deg[0]
    assert_same_prediction(after, SkyPredictor(cat).at(SITE, T0 + 5.0))


# ---------------------------------------------------------------------------------- flags


def test_sunlit_matches_skyfield_is_sunlit(catalogue):
    rng = np.random.default_rng(3)
    index = rng.choice(len(catalogue), 150, replace=False)
    times = T0 + np.array([0.0, 1500.0, 3000.0])
    prediction = predict_sky(catalogue, SITE, times, index)
    eph = ephemeris()
    sun = (eph["sun"] - eph["earth"]).at(skyfield_time(T0)).position.km
    checked = 0
    for k, seconds in enumerate(times):
        t = skyfield_time(seconds)
        for row, i in enumerate(index):
            geocentric = skyfield_sat(catalogue, i).at(t)
            # skip grazing geometry (within 5 km of the shadow edge): the Sun is taken at the
            # centre of a 60-second bucket, which moves the edge by tens of metres
            r = geocentric.position.km
            to_sun = sun - r
            to_sun /= np.linalg.norm(to_sun)
            miss = np.linalg.norm(r - np.dot(r, to_sun) * to_sun)
            if abs(miss - EARTH_RADIUS_KM) < 5.0:
                continue
            assert prediction.sunlit[row, k] == geocentric.is_sunlit(eph), catalogue.names[i]
            checked += 1
    assert checked > 400
    assert prediction.sunlit.any() and not prediction.sunlit.all()


def test_above_horizon_matches_skyfield_altaz(catalogue):
    rng = np.random.default_rng(5)
    index = rng.choice(len(catalogue), 200, replace=False)
    prediction = predict_sky(catalogue, SITE, T0, index, min_elevation_deg=0.0)
    t = skyfield_time(T0)
    site = skyfield_observer(SITE)
    alt = np.array([(skyfield_sat(catalogue, i) - site).at(t).altaz()[0].degrees for i in index])
    np.testing.assert_allclose(prediction.elevation_deg, alt, atol=1e-4)
    np.testing.assert_array_equal(prediction.above_horizon, alt > 0.0)
    assert 0 < prediction.above_horizon.sum() < len(index)
    raised = predict_sky(catalogue, SITE, T0, index, min_elevation_deg=20.0)
    np.testing.assert_array_equal(raised.above_horizon, alt > 20.0)


def test_space_sensor_line_of_sight_clears_the_earth(catalogue, space_sensor):
    rng = np.random.default_rng(11)
    index = rng.choice(len(catalogue), 200, replace=False)
    index = index[catalogue.norad_ids[index] != 25544]
    prediction = predict_sky(catalogue, space_sensor, T0, index, light_time=False)
    assert np.isnan(prediction.elevation_deg).all()
    t = skyfield_time(T0)
    observer = skyfield_observer(space_sensor)
    o = observer.at(t).position.km
    for row, i in enumerate(index):
        relative = (skyfield_sat(catalogue, i) - observer).at(t)
        behind = relative.is_behind_earth()
        d = relative.position.km
        u = np.clip(-np.dot(o, d) / np.dot(d, d), 0.0, 1.0)
        clearance_km = np.linalg.norm(o + u * d) - EARTH_RADIUS_KM
        if behind:
            assert not prediction.above_horizon[row]
        if abs(clearance_km - 100.0) > 1.0:
            assert prediction.above_horizon[row] == (clearance_km > 100.0)
    assert 0 < prediction.above_horizon.sum() < len(index)


def test_sun_altitude_matches_skyfield(space_sensor):
    eph = ephemeris()
    site = eph["earth"] + skyfield_observer(SITE)
    times = T0 + np.arange(0.0, 86400.0, 7200.0)
    ours = sun_altitude_deg(SITE, times)
    theirs = np.array(
        [site.at(skyfield_time(s)).observe(eph["sun"]).apparent().altaz()[0].degrees for s in times]
    )
    np.testing.assert_allclose(ours, theirs, atol=0.01)
    assert ours.min() < -18.0 and ours.max() > 0.0  # a full day has night and day
    assert np.ndim(sun_altitude_deg(SITE, T0)) == 0
    with pytest.raises(ValueError, match="space-based"):
        sun_altitude_deg(space_sensor, T0)


def test_invalid_when_sgp4_fails(catalogue):
    # Two years on, decayed Starlinks and other low objects make sgp4 report errors.
    prediction = predict_sky(catalogue, SITE, T0 + 2 * 365.25 * 86400)
    bad = ~prediction.valid
    assert bad.any()
    assert np.isnan(prediction.ra_deg[bad]).all() and np.isfinite(prediction.ra_deg[~bad]).all()
    assert not (prediction.sunlit[bad] | prediction.above_horizon[bad]).any()
    seconds = T0 + 2 * 365.25 * 86400
    for i in (int(np.flatnonzero(bad)[0]), int(np.flatnonzero(~bad)[0])):
        error, _, _ = catalogue.satrecs[i].sgp4(
            2440587.5 + seconds // 86400, (seconds % 86400) / 86400
        )
        assert (error != 0) == bad[i]


# ---------------------------------------------------------------------- field of view etc.


def test_field_of_view_selection(catalogue):
    prediction = predict_sky(catalogue, SITE, T0)
    visible = np.flatnonzero(prediction.visible())
    assert visible.size > 10
    centre = visible[0]
    fov = FieldOfView(
        ra_deg=float(prediction.ra_deg[centre]),
        dec_deg=float(prediction.dec_deg[centre]),
        radius_deg=5.0,
    )
    inside = in_field_of_view(prediction, fov)
    assert inside[centre]
    # an independent check of the margin: Skyfield positions, radius 1.2 x 5 degrees
    candidates = np.flatnonzero(
        angular_separation_deg(prediction.ra_deg, prediction.dec_deg, fov.ra_deg, fov.dec_deg)
        < 10.0
    )
    ra, dec, _ = reference_radec(catalogue, SITE, candidates, T0, True)
    separation = angular_separation_deg(ra, dec, fov.ra_deg, fov.dec_deg)
    clear = np.abs(separation - 6.0) > 1e-3
    np.testing.assert_array_equal(inside[candidates][clear], (separation <= 6.0)[clear])
    assert inside.sum() == np.sum(separation <= 6.0)
    tight = in_field_of_view(prediction, fov, margin=1.0)
    assert tight.sum() <= inside.sum()
    assert not in_field_of_view(prediction.select(~prediction.valid), fov).any()


def test_prediction_select_and_visible(catalogue, sample):
    prediction = predict_sky(catalogue, SITE, T0, sample)
    assert isinstance(prediction, SkyPrediction)
    np.testing.assert_array_equal(
        prediction.visible(), prediction.valid & prediction.above_horizon & prediction.sunlit
    )
    first = prediction.select([0, 2])
    assert len(first) == 2 and first.norad_ids.tolist() == prediction.norad_ids[[0, 2]].tolist()
    with pytest.raises(ValueError):
        prediction.select(np.ones(3, dtype=bool))


def test_bad_arguments(catalogue):
    with pytest.raises(ValueError, match="scalar or 1-D"):
        predict_sky(catalogue, SITE, np.full((2, 2), T0))
    with pytest.raises(ValueError, match="finite"):
        predict_sky(catalogue, SITE, float("nan"))
    with pytest.raises(ValueError, match="empty"):
        predict_sky(catalogue, SITE, [])
    with pytest.raises(IndexError):
        predict_sky(catalogue, SITE, T0, [len(catalogue)])
    broken = list(catalogue.lines[0])
    broken[1] = broken[1][:68] + str((int(broken[1][68]) + 1) % 10)
    # A sensor's TLE is checked when the sensor is defined, not at its first prediction.
    with pytest.raises(ValueError, match="(?s)tle.*checksum"):
        Sensor(sensor_id="bad-cam", tle=broken)
    empty = predict_sky(Catalogue(), SITE, T0)
    assert len(empty) == 0 and empty.ra_deg.shape == (0,)

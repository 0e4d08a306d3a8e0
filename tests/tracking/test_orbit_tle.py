"""TLE and OMM output: the lines of the whole real catalogue, and SGP4 mean elements fitted
to orbits determined from simulated tracks, which SGP4 must reproduce."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from orbitlink.tracking.catalogue import (
    Catalogue,
    element_set_from_omm,
    element_set_from_tle,
)
from orbitlink.tracking.models import Sensor
from orbitlink.tracking.orbit.angles import simulate_observations
from orbitlink.tracking.orbit.determine import determine_orbit
from orbitlink.tracking.orbit.tle import (
    MeanElements,
    TLESettings,
    _exponent_field,
    _exponent_value,
    fit_mean_elements,
    sgp4_gcrs,
    sgp4_residuals_arcsec,
    tle_epoch_unix_s,
)
from orbitlink.tracking.predict import predict_sky

T0 = datetime(2026, 5, 31, 12, 0, tzinfo=UTC).timestamp()
SITE = Sensor(sensor_id="siding-spring", lat_deg=-31.2733, lon_deg=149.0644, alt_m=1165.0)
PROVISIONAL = 270001  # an Alpha-5 number, as a provisional catalogue might hand out


@pytest.fixture(scope="module")
def catalogue(catalog_dir: Path) -> Catalogue:
    return Catalogue.from_path(catalog_dir)


def rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(values**2)))


def test_every_real_tle_is_written_back_byte_for_byte(catalogue: Catalogue):
    for index, satrec in enumerate(catalogue.satrecs):
        lines = MeanElements.from_satrec(satrec).tle_lines(
            int(catalogue.norad_ids[index]),
            classification=satrec.classification,
            international_designator=satrec.intldesg,
            element_set_number=satrec.elnum,
            revolution_number=satrec.revnum,
        )
        assert lines == catalogue.lines[index], catalogue.names[index]


def test_omm_records_rebuild_the_same_element_sets(catalogue: Catalogue):
    picks = np.linspace(0, len(catalogue) - 1, 50).astype(int)
    times = np.array([T0, T0 + 86400.0])
    for i in picks:
        elements = MeanElements.from_satrec(catalogue.satrecs[i])
        record = elements.omm(int(catalogue.norad_ids[i]), name=catalogue.names[i])
        rebuilt = element_set_from_omm(record)
        assert rebuilt.norad_id == catalogue.norad_ids[i] and rebuilt.name == catalogue.names[i]
        _, r, _ = sgp4_gcrs([catalogue.satrecs[i], rebuilt.satrec, elements.satrec()], times)
        # The OMM epoch is to the microsecond (8 mm of motion at most); MeanElements keeps the
        # epoch as Unix seconds (a quarter microsecond).
        assert np.abs(r[1] - r[0]).max() < 0.01 and np.abs(r[2] - r[0]).max() < 1e-5


def test_alpha5_numbers_and_field_formats():
    elements = MeanElements(T0, 15.5, 0.0001234, 51.6, 359.99996, 0.0, 123.4, -1.23456e-4)
    line1, line2 = elements.tle_lines(PROVISIONAL, international_designator="26999A")
    assert line1[2:7] == line2[2:7] == "T0001"
    parsed = element_set_from_tle("PROVISIONAL", line1, line2)
    assert parsed.norad_id == PROVISIONAL
    assert line2[17:25] == "  0.0000"  # 359.99996 wraps, not "360.0000"
    assert line1[53:61] == "-12346-3"
    assert parsed.satrec.bstar == pytest.approx(-1.2346e-4)
    with pytest.raises(ValueError, match="339999"):
        elements.tle_lines(340000)
    for value, field in [(0.0, " 00000+0"), (9.999996e-5, " 10000-3"), (0.5, " 50000+0")]:
        assert _exponent_field(value) == field
        assert _exponent_value(field) == pytest.approx(value, rel=1e-5)


def test_tle_epochs_are_on_the_tle_grid():
    epoch = tle_epoch_unix_s(T0 + 0.123456789)
    line1, _ = MeanElements(epoch, 15.5, 0.001, 51.6, 10.0, 20.0, 30.0).tle_lines(1)
    parsed = element_set_from_tle("", line1, _)
    assert parsed.epoch_unix_s == pytest.approx(epoch, abs=1e-5)
    assert abs(epoch - (T0 + 0.123456789)) <= 0.000432 + 1e-6  # half of 1e-8 day


def pass_observations(catalogue, norad, duration_s, cadence_s, seed, sigma=2.0):
    grid = T0 + np.arange(0.0, 86400.0, 10.0)
    sky = predict_sky(catalogue, SITE, grid, index=catalogue.index_of([norad]))
    up = sky.elevation_deg[0] > 25.0
    run = int(duration_s / 10.0) + 1
    start = grid[np.argmax(np.convolve(up, np.ones(run), mode="valid") == run)]
    times = start + np.arange(0.0, duration_s + 1e-9, cadence_s)
    return simulate_observations(catalogue, norad, SITE, times, sigma, np.random.default_rng(seed))


@pytest.mark.parametrize(
    ("norad", "duration_s", "cadence_s"),
    [(25544, 180.0, 5.0), (36744, 3600.0, 30.0), (47719, 1800.0, 30.0)],
)
def test_emitted_tle_reproduces_the_observed_arc(catalogue, norad, duration_s, cadence_s):
    """Determine an orbit from a track, fit SGP4 mean elements, write the lines, read them
    back with the catalogue's reader: SGP4 of that element set fits the observations as well
    as the orbit did (the TLE's rounded digits cost a few per cent of RMS at most)."""
    obs = pass_observations(catalogue, norad, duration_s, cadence_s, seed=11)
    result = determine_orbit(obs)
    assert result.determined, result.reason
    fitted = fit_mean_elements(result.orbit, obs)
    assert fitted.converged, fitted.message
    line1, line2 = fitted.tle_lines(PROVISIONAL, international_designator="26999A")
    element_set = element_set_from_tle("UCT 1", line1, line2)
    assert element_set.norad_id == PROVISIONAL
    tle_rms = rms(sgp4_residuals_arcsec(element_set.satrec, obs))
    assert tle_rms == pytest.approx(fitted.tle_rms_arcsec, rel=1e-3)
    assert tle_rms <= 1.1 * result.orbit.rms_arcsec
    assert fitted.rms_arcsec <= tle_rms
    # The OMM keeps full precision: exactly the fitted elements' residuals.
    omm_set = element_set_from_omm(fitted.omm(PROVISIONAL, name="UCT 1", object_id="2026-999A"))
    assert rms(sgp4_residuals_arcsec(omm_set.satrec, obs)) == pytest.approx(
        fitted.rms_arcsec, rel=1e-4
    )
    # And the catalogue takes both, as it takes any element set.
    both = Catalogue([element_set])
    assert both.index_of([PROVISIONAL])[0] == 0


def test_mean_elements_follow_the_fitted_orbit_for_a_revolution(catalogue):
    obs = pass_observations(catalogue, 25544, 180.0, 5.0, seed=12)
    orbit = determine_orbit(obs).orbit
    fitted = fit_mean_elements(orbit)  # from the orbit alone
    assert fitted.residuals_arcsec is None and fitted.tle_rms_arcsec is None
    assert fitted.trajectory_rms_km < 0.1  # J2 osculating vs SGP4 mean, over one revolution
    times = orbit.epoch_unix_s + np.linspace(0.0, 5400.0, 30)
    r_orbit, _, _ = orbit.predict(times)
    _, r_fit, _ = sgp4_gcrs([fitted.elements.satrec(), fitted.tle_elements.satrec()], times)
    assert np.linalg.norm(r_fit - r_orbit, axis=2).max() < 0.3


def test_bstar_can_be_fitted(catalogue):
    obs = pass_observations(catalogue, 25544, 180.0, 5.0, seed=13)
    orbit = determine_orbit(obs).orbit
    fixed = fit_mean_elements(orbit, obs, TLESettings(bstar_per_earth_radius=2e-4))
    fitted = fit_mean_elements(orbit, obs, TLESettings(fit_bstar=True))
    assert fixed.elements.bstar_per_earth_radius == 2e-4
    assert fitted.covariance.shape == (7, 7) and fixed.covariance.shape == (6, 6)
    # Three minutes cannot see drag: B*'s formal sigma dwarfs any real B* (~1e-4).
    assert np.sqrt(fitted.covariance[6, 6]) > 1e-2

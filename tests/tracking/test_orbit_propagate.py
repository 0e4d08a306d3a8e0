"""Elements and propagation: textbook cases, real catalogue states, and sgp4 as a yardstick."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.constants import EARTH_J2, EARTH_MU_KM3_S2, EARTH_RADIUS_KM
from orbitlink.tracking.ephemeris import ephemeris
from orbitlink.tracking.orbit.elements import (
    KeplerElements,
    eccentric_anomaly_from_mean,
    elements_from_state,
    period_s,
    state_from_elements,
)
from orbitlink.tracking.orbit.propagate import (
    THIRD_BODY_STEP_S,
    _third_body_splines,
    earth_pole_gcrs,
    kepler,
    propagate,
)
from orbitlink.tracking.predict import frame_rotations
from orbitlink.tracking.times import jd_from_unix, skyfield_time


@pytest.fixture(scope="module")
def catalogue(catalog_dir: Path) -> Catalogue:
    return Catalogue.from_path(catalog_dir)


def sgp4_gcrs(catalogue: Catalogue, norad_id: int, times: np.ndarray):
    satrec = catalogue.satrecs[int(catalogue.index_of([norad_id])[0])]
    error, r, v = satrec.sgp4_array(*jd_from_unix(times))
    assert not error.any()
    rotation, _ = frame_rotations(times)
    return np.einsum("tij,tj->ti", rotation, r), np.einsum("tij,tj->ti", rotation, v)


def test_kepler_matches_vallado_example_2_4():
    # Vallado (4th ed.) Example 2-4: 40 minutes on; the book prints 4 decimals and 6.
    r, v = kepler([1131.340, -2282.343, 6672.423], [-5.64305, 4.30333, 2.42879], 40 * 60.0)
    np.testing.assert_allclose(r, [-4219.7527, 4363.0292, -3958.7666], atol=1e-4)
    np.testing.assert_allclose(v, [3.689866, -1.916735, -6.112511], atol=1e-6)


def test_elements_match_vallado_example_2_5():
    # Vallado (4th ed.) Example 2-5. The book works in canonical units and prints a and p a
    # few metres from what km/s arithmetic gives; the angles agree to its digits.
    e = elements_from_state([6524.834, 6862.875, 6448.296], [4.901327, 5.533756, -1.976341])
    assert e.semi_major_axis_km == pytest.approx(36127.343, abs=0.01)
    assert e.semi_major_axis_km * (1 - e.eccentricity**2) == pytest.approx(11067.790, abs=0.01)
    assert e.eccentricity == pytest.approx(0.832853, abs=1e-6)
    assert e.inclination_deg == pytest.approx(87.870, abs=1e-3)
    assert e.raan_deg == pytest.approx(227.898, abs=1e-3)
    assert e.arg_perigee_deg == pytest.approx(53.38, abs=0.01)
    assert e.true_anomaly_deg == pytest.approx(92.335, abs=1e-3)


def test_elements_round_trip_over_the_real_catalogue(catalogue: Catalogue):
    """Every regime the catalogue holds, GEO (near-circular, near-equatorial) included."""
    epoch = float(np.median(catalogue.epoch_unix_s))
    error, r, v = catalogue.satrec_array.sgp4(*jd_from_unix(np.array([epoch])))
    ok = error[:, 0] == 0
    r, v = r[ok, 0], v[ok, 0]
    elements = elements_from_state(r, v)
    assert np.all((elements.eccentricity < 1.0) & (elements.semi_major_axis_km > 6500.0))
    back_r, back_v = state_from_elements(elements)
    assert np.abs(back_r - r).max() < 1e-6
    assert np.abs(back_v - v).max() < 1e-9


def test_conventional_angles_of_circular_and_equatorial_orbits():
    r, v = np.array([7000.0, 0.0, 0.0]), np.array([0.0, np.sqrt(EARTH_MU_KM3_S2 / 7000.0), 0.0])
    e = elements_from_state(r, v)
    assert e.eccentricity < 1e-12 and e.inclination_deg < 1e-12
    assert e.raan_deg == 0.0 and e.arg_perigee_deg == 0.0 and e.mean_anomaly_deg < 1e-9
    back_r, back_v = state_from_elements(e)
    np.testing.assert_allclose(back_r, r, atol=1e-8)
    np.testing.assert_allclose(back_v, v, atol=1e-11)


def test_kepler_equation_for_every_eccentricity():
    m = np.linspace(-np.pi, np.pi, 721)[:, None]
    e = np.array([0.0, 0.1, 0.5, 0.9, 0.99, 0.999999])[None, :]
    anomaly = eccentric_anomaly_from_mean(m, e)
    residual = anomaly - e * np.sin(anomaly) - np.remainder(m + np.pi, 2 * np.pi) + np.pi
    assert np.abs(residual).max() < 1e-12


def test_kepler_conserves_energy_and_momentum_and_runs_backwards():
    r0 = np.array([[7000.0, 0.0, 0.0]] * 3)
    v0 = np.array([[0.0, 7.5, 1.0], [0.0, 10.3, 1.0], [0.0, 12.0, 2.0]])  # ellipse, HEO, hyperbola
    dt = np.array([[-5e4, -30.0, 0.0, 30.0, 3e5]])
    r, v = kepler(r0[:, None], v0[:, None], dt)
    energy = 0.5 * np.sum(v * v, axis=-1) - EARTH_MU_KM3_S2 / np.linalg.norm(r, axis=-1)
    energy0 = 0.5 * np.sum(v0 * v0, axis=-1) - EARTH_MU_KM3_S2 / 7000.0
    np.testing.assert_allclose(energy, np.repeat(energy0[:, None], 5, axis=1), rtol=1e-10)
    momentum = np.cross(r0, v0)[:, None].repeat(5, 1)
    np.testing.assert_allclose(np.cross(r, v), momentum, rtol=1e-9, atol=1e-6)
    back_r, back_v = kepler(r, v, -dt)
    np.testing.assert_allclose(back_r, r0[:, None].repeat(5, 1), atol=1e-5)
    np.testing.assert_allclose(back_v, v0[:, None].repeat(5, 1), atol=1e-8)
    # A whole number of periods later the ellipse is back where it was.
    period = period_s(elements_from_state(r0[0], v0[0]).semi_major_axis_km)
    np.testing.assert_allclose(kepler(r0[0], v0[0], 7 * period)[0], r0[0], atol=1e-5)


def test_j2_propagation_follows_sgp4_where_two_body_does_not(catalogue: Catalogue):
    """The ISS a day on: sgp4 (with drag and J2-J4) and the numerical J2 model agree to a
    few km; two-body is 1,000 km off."""
    epoch = float(catalogue.epoch_unix_s[catalogue.index_of([25544])[0]])
    times = epoch + np.array([0.0, 5400.0, 86400.0])
    r, v = sgp4_gcrs(catalogue, 25544, times)
    j2, _ = propagate(r[:1], v[:1], epoch, times, "j2")
    kep, _ = propagate(r[:1], v[:1], epoch, times, "two-body")
    j2_error = np.linalg.norm(j2[0] - r, axis=1)
    kepler_error = np.linalg.norm(kep[0] - r, axis=1)
    assert j2_error[0] == 0.0
    assert j2_error[-1] < 15.0 < 500.0 < kepler_error[-1]


def test_j2_node_regression_is_the_secular_rate(catalogue: Catalogue):
    epoch = float(catalogue.epoch_unix_s[catalogue.index_of([25544])[0]])
    r, v = sgp4_gcrs(catalogue, 25544, np.array([epoch]))
    times = epoch + np.linspace(0.0, 86400.0, 97)
    rj, vj = propagate(r, v, epoch, times, "j2")
    # Elements about the true pole: rotate the GCRS states into a frame whose z is the pole.
    pole = earth_pole_gcrs(epoch)
    x = np.cross([0.0, 0.0, 1.0], pole)
    x /= np.linalg.norm(x)
    frame = np.stack([x, np.cross(pole, x), pole])
    elements = elements_from_state(rj[0] @ frame.T, vj[0] @ frame.T)
    node = np.unwrap(np.radians(elements.raan_deg))
    rate = np.polyfit(times - epoch, node, 1)[0]
    a, e = np.mean(elements.semi_major_axis_km), np.mean(elements.eccentricity)
    i = np.radians(np.mean(elements.inclination_deg))
    n = np.sqrt(EARTH_MU_KM3_S2 / a**3)
    expected = -1.5 * n * EARTH_J2 * (EARTH_RADIUS_KM / (a * (1 - e * e))) ** 2 * np.cos(i)
    assert rate == pytest.approx(expected, rel=0.01)


def test_numerical_propagation_runs_both_ways(catalogue: Catalogue):
    epoch = float(catalogue.epoch_unix_s[catalogue.index_of([25544])[0]])
    r, v = sgp4_gcrs(catalogue, 25544, np.array([epoch]))
    later = epoch + 3 * 3600.0
    r1, v1 = propagate(r, v, epoch, [later], "j2")
    r0, v0 = propagate(r1[:, 0], v1[:, 0], later, [epoch], "j2")
    np.testing.assert_allclose(r0[0, 0], r[0], atol=1e-4)
    np.testing.assert_allclose(v0[0, 0], v[0], atol=1e-7)
    # Times before and after the epoch in one call, unsorted, with the epoch itself.
    times = epoch + np.array([600.0, -600.0, 0.0])
    both, _ = propagate(r, v, epoch, times, "j2")
    np.testing.assert_array_equal(both[0, 2], r[0])
    forward, _ = propagate(r, v, epoch, times[:1], "j2")
    np.testing.assert_allclose(both[0, 0], forward[0, 0], atol=1e-6)


def test_an_orbit_into_the_earth_comes_back_nan():
    r, v = np.array([[7000.0, 0.0, 0.0]]), np.array([[-1.0, 1.0, 0.0]])  # falls in
    out, _ = propagate(r, v, 0.0, [60.0, 4000.0], "j2")
    assert np.all(np.isfinite(out[0, 0])) and np.all(np.isnan(out[0, 1]))


def test_sun_and_moon_splines_follow_de421():
    start = 1.78e9
    moon, sun = _third_body_splines(start, start + 2 * 86400.0)
    t = start + np.array([0.37, 0.5, 0.91, 1.63]) * THIRD_BODY_STEP_S * 7
    eph = ephemeris()
    when = skyfield_time(t)
    moon_true = (eph["moon"] - eph["earth"]).at(when).position.km.T
    sun_true = (eph["sun"] - eph["earth"]).at(when).position.km.T
    assert np.abs(moon(t) - moon_true).max() < 0.01  # km, at 384,000 km
    assert np.abs(sun(t) - sun_true).max() < 1.0  # km, at 1.5e8 km


def test_lunisolar_pull_at_geo_is_kilometres_a_day(catalogue: Catalogue):
    """A GEO object's J2 and J2+Sun+Moon trajectories part by kilometres in a day (the
    tidal acceleration is ~1e-8 km/s^2), not by metres or by hundreds of km."""
    norad = 36744  # COMS 1
    epoch = float(catalogue.epoch_unix_s[catalogue.index_of([norad])[0]])
    r, v = sgp4_gcrs(catalogue, norad, np.array([epoch]))
    times = epoch + np.array([3600.0, 86400.0])
    plain, _ = propagate(r, v, epoch, times, "j2")
    lunisolar, _ = propagate(r, v, epoch, times, "j2-sun-moon")
    gap = np.linalg.norm(lunisolar[0] - plain[0], axis=1)
    assert gap[0] < 0.1 and 1.0 < gap[1] < 50.0


def test_propagate_checks_its_arguments():
    with pytest.raises(ValueError, match="dynamics"):
        propagate([[7000.0, 0, 0]], [[0, 7.5, 0]], 0.0, [1.0], "j4")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="elliptic"):
        state_from_elements(KeplerElements(*(np.array(x) for x in (7000.0, 1.2, 0, 0, 0, 0, 0))))

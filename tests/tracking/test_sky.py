"""Sky geometry checked against Skyfield and against identities that must hold."""

from __future__ import annotations

import numpy as np
import pytest
from skyfield.functions import angle_between, from_spherical

from orbitlink.tracking import sky

RNG = np.random.default_rng(7)
RA = RNG.uniform(0, 360, 500)
DEC = np.degrees(np.arcsin(RNG.uniform(-1, 1, 500)))


def test_unit_vectors_round_trip_everywhere_including_poles():
    ra = np.concatenate([RA, [0.0, 359.999999, 123.0]])
    dec = np.concatenate([DEC, [0.0, 0.0, 89.9999]])
    back_ra, back_dec = sky.radec_from_unit(sky.unit_from_radec(ra, dec))
    assert np.allclose(back_dec, dec, atol=1e-10)
    wrapped = (back_ra - ra + 180.0) % 360.0 - 180.0
    assert np.all(np.abs(wrapped * np.cos(np.radians(dec))) < 1e-9)


def test_separation_matches_skyfield():
    def vectors(ra_deg, dec_deg):
        return from_spherical(1.0, np.radians(dec_deg), np.radians(ra_deg))

    expected = np.degrees(angle_between(vectors(RA[:20], DEC[:20]), vectors(RA[20:40], DEC[20:40])))
    got = sky.angular_separation_deg(RA[:20], DEC[:20], RA[20:40], DEC[20:40])
    assert np.allclose(got, expected, atol=1e-9)
    assert np.allclose(sky.unit_from_radec(RA, DEC), vectors(RA, DEC).T, atol=1e-15)
    assert sky.angular_separation_deg(10.0, 0.0, 10.0 + 1e-7, 0.0) == pytest.approx(1e-7, rel=1e-6)


def test_gnomonic_round_trip_and_small_offsets_are_angular():
    ra0, dec0 = RA[:200], DEC[:200]
    ra = ra0 + RNG.normal(0, 2, 200)
    dec = np.clip(dec0 + RNG.normal(0, 2, 200), -89.9, 89.9)
    xi, eta = sky.gnomonic_from_radec(ra, dec, ra0, dec0)
    back_ra, back_dec = sky.radec_from_gnomonic(xi, eta, ra0, dec0)
    assert np.allclose(sky.angular_separation_deg(ra, dec, back_ra, back_dec), 0, atol=1e-10)
    xi, eta = sky.gnomonic_from_radec(30.0 + 1e-4 / np.cos(np.radians(40)), 40.0, 30.0, 40.0)
    assert xi == pytest.approx(1e-4, rel=1e-6) and abs(eta) < 1e-8
    far_xi, _ = sky.gnomonic_from_radec(200.0, 0.0, 10.0, 0.0)
    assert np.isnan(far_xi)


def test_rates_from_vectors_match_a_finite_difference():
    position = RNG.normal(0, 7000, (50, 3))
    velocity = RNG.normal(0, 7, (50, 3))
    ra, dec, ra_rate, dec_rate, distance = sky.radec_rates_from_vectors(position, velocity)
    dt = 1e-3
    ra2, dec2 = sky.radec_from_unit(position + velocity * dt)
    d_ra = ((ra2 - ra + 180) % 360 - 180) * np.cos(np.radians(dec))
    assert np.allclose(d_ra / dt, ra_rate, rtol=1e-3, atol=1e-9)
    assert np.allclose((dec2 - dec) / dt, dec_rate, rtol=1e-3, atol=1e-9)
    assert np.allclose(distance, np.linalg.norm(position, axis=1))


def test_rates_on_the_celestial_pole_use_the_tangent_basis():
    position = np.array([[0.0, 0.0, 7000.0], [0.0, 0.0, -7000.0]])
    velocity = np.array([[1.0, 2.0, 0.5], [1.0, 2.0, 0.5]])
    ra, dec, ra_rate, dec_rate, distance = sky.radec_rates_from_vectors(position, velocity)
    east, north, _ = sky.tangent_basis(ra, dec)
    assert np.allclose(dec, [90.0, -90.0])
    assert np.allclose(ra_rate, np.degrees(np.sum(velocity * east, axis=1) / distance))
    assert np.allclose(dec_rate, np.degrees(np.sum(velocity * north, axis=1) / distance))

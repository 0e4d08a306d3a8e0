"""The element-set error model, fitted on the two real CelesTrak snapshots four days apart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.constants import SECONDS_PER_DAY
from orbitlink.tracking.element_error import (
    COMPONENTS,
    ORBIT_CLASSES,
    ElementErrorModel,
    classify_orbits,
    orbit_classes,
    read_element_error_model,
    write_element_error_model,
)
from orbitlink.tracking.element_error_fit import (
    fit_element_error_model,
    fit_growth_law,
    format_fit_report,
    measure_element_differences,
)
from orbitlink.tracking.errors import FormatError

REPO = Path(__file__).resolve().parents[2]
#: The fit is deterministic; the shipped table rounds to six significant digits.
FIT_RTOL = 1e-5
LEO_CLASSES = ("leo_low", "leo_high", "leo_drag", "starlink", "starlink_drag", "oneweb")


def code(name: str) -> int:
    return ORBIT_CLASSES.index(name)


def tle_checksum(line: str) -> int:
    """Independent TLE checksum (the test must not trust the code it tests)."""
    return sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line[:68]) % 10


@pytest.fixture(scope="module")
def snapshots(shared_data: Path) -> tuple[Catalogue, Catalogue]:
    folder = shared_data / "catalog"
    return (
        Catalogue.from_path(folder / "celestrak-2026-05-26"),
        Catalogue.from_path(folder / "celestrak-2026-05-30"),
    )


@pytest.fixture(scope="module")
def fitted(snapshots):
    older, newer = snapshots
    source = {"older": "celestrak-2026-05-26", "newer": "celestrak-2026-05-30"}
    return fit_element_error_model(older, newer, source=source)


@pytest.fixture(scope="module")
def shipped() -> ElementErrorModel:
    return read_element_error_model()


# ------------------------------------------------------------------------- the shipped fit


def test_fit_on_the_real_snapshots_reproduces_the_shipped_table(fitted, shipped):
    model, _ = fitted
    assert model.method == shipped.method
    assert model.basis == shipped.basis
    np.testing.assert_array_equal(model.objects, shipped.objects)
    np.testing.assert_allclose(model.coefficients, shipped.coefficients, rtol=FIT_RTOL, atol=0)
    np.testing.assert_allclose(model.tail_fraction, shipped.tail_fraction, rtol=FIT_RTOL, atol=0)
    np.testing.assert_allclose(model.age_range_days, shipped.age_range_days, rtol=FIT_RTOL)
    assert shipped.source["older"] == "celestrak-2026-05-26"
    assert shipped.source["newer"] == "celestrak-2026-05-30"


def test_every_class_is_fitted_on_enough_objects_or_says_where_its_law_comes_from(shipped):
    counts = dict(zip(ORBIT_CLASSES, shipped.objects.tolist()))
    assert counts["starlink"] + counts["starlink_drag"] + counts["starlink_high_drag"] > 9000
    assert counts["geo"] > 500 and counts["oneweb"] > 600
    for c, name in enumerate(ORBIT_CLASSES):
        if shipped.method[c] == "fitted":
            assert counts[name] >= 50, name
        else:
            assert shipped.basis[c] in ORBIT_CLASSES
    # The groups fitted hold no navigation satellites, and only a handful of HEO objects.
    assert shipped.method[code("meo")] == "copied" and counts["meo"] == 0
    assert shipped.method[code("heo")] == "scaled"


def test_starlink_sets_a_few_days_old_are_seconds_early_or_late(shipped):
    timing = shipped.sigmas(code("starlink"), np.array([4.0, 7.0])).timing_s
    assert np.all((timing > 1.0) & (timing < 50.0))
    # The drag-dominated Starlinks are further off, but still tens of seconds at 4 days.
    assert 5.0 < shipped.sigmas(code("starlink_drag"), 4.0).timing_s < 50.0
    # ~1-2 km across the track after a week (somewhat less for the nominal sets).
    assert 0.3 < shipped.sigmas(code("starlink"), 7.0).cross_track_km < 3.0


def test_geo_sets_a_week_old_are_tens_to_hundreds_of_arcsec_off(shipped):
    angle = shipped.sigma("in_track_arcsec", code("geo"), 7.0)
    assert 10.0 < angle < 300.0
    # The angle is the in-track error seen from the GEO radius.
    in_track = shipped.sigma("in_track_km", code("geo"), 7.0)
    assert angle == pytest.approx(np.degrees(in_track / 42164.0) * 3600.0, rel=0.05)


def test_in_track_error_dominates_and_grows_about_km_per_day_in_leo(shipped):
    for name in LEO_CLASSES:
        s = shipped.sigmas(code(name), 4.0)
        assert s.in_track_km > 2 * s.radial_km and s.in_track_km > 2 * s.cross_track_km, name
    for name in ("leo_low", "leo_drag", "starlink"):
        growth_km_per_day = shipped.sigma("in_track_km", code(name), 4.0) / 4.0
        assert 0.5 < growth_km_per_day < 10.0, name
    # High LEO sets without drag barely drift; drag makes all the difference.
    assert shipped.sigma("in_track_km", code("leo_high"), 4.0) < 2.0
    assert shipped.sigma("in_track_km", code("leo_drag"), 4.0) > 5 * shipped.sigma(
        "in_track_km", code("leo_high"), 4.0
    )


def test_heavy_tails_are_measured_not_hidden(fitted, shipped):
    assert np.all((shipped.tail_fraction >= 0.0) & (shipped.tail_fraction < 0.2))
    # A Gaussian leaves 6e-7 beyond 5 sigma; manoeuvres and decays leave percent.
    assert shipped.tail("in_track_km", code("starlink")) > 0.005
    assert shipped.tail("cross_track_km", code("geo")) > 0.01
    _, diagnostics = fitted
    for fit in diagnostics.classes.values():
        for law in fit.components.values():
            assert law.tail_fraction <= law.tail_fraction_3sigma


def test_the_ages_measured_are_those_of_the_epoch_spread(fitted, snapshots):
    _, diagnostics = fitted
    differences = diagnostics.differences
    older, newer = snapshots
    assert len(differences) == len(np.intersect1d(older.norad_ids, newer.norad_ids)) - (
        differences.identical
    )
    pair_age = (differences.newer_epoch_unix_s - differences.older_epoch_unix_s) / SECONDS_PER_DAY
    assert 3.5 < np.median(pair_age) < 4.5
    assert np.all(pair_age > 0)
    ages = differences.age_days
    np.testing.assert_allclose(ages[:, -1] - ages[:, 0], 1.0)
    assert np.all(differences.valid.mean(axis=1) > 0.5)


def test_report_is_the_one_the_docs_quote(fitted):
    model, diagnostics = fitted
    report = format_fit_report(model, diagnostics)
    docs = (REPO / "docs" / "error-model.md").read_text()
    table_rows = [line for line in report.splitlines() if line.startswith("| ")]
    assert len(table_rows) > 100
    missing = [line for line in table_rows if line not in docs]
    assert not missing, f"docs/error-model.md is stale; rerun tools/fit_error_model.py: {missing}"


def test_refit_script_prints_the_report_and_writes_the_table(shared_data, tmp_path, shipped):
    out = tmp_path / "table.json"
    folder = shared_data / "catalog"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "fit_error_model.py"),
            str(folder / "celestrak-2026-05-26"),
            str(folder / "celestrak-2026-05-30"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert "### 1-sigma at 1 / 4 / 7 days" in result.stdout
    assert f"Wrote {out}" in result.stdout
    written = read_element_error_model(out)
    np.testing.assert_allclose(written.coefficients, shipped.coefficients, rtol=FIT_RTOL, atol=0)


# ------------------------------------------------------------------------------ the classes


def test_known_objects_fall_in_their_classes(snapshots):
    older, _ = snapshots
    classes = orbit_classes(older)
    expected = {
        25544: ("leo_low", "leo_high", "leo_drag"),  # ISS
        44714: tuple(name for name in ORBIT_CLASSES if name.startswith("starlink")),  # -1008
        44057: ("oneweb",),  # ONEWEB-0012
        36516: ("geo",),  # SES-1
        46114: ("geo",),  # GALAXY 30
        47719: ("heo",),  # ARKTIKA-M 1, a Molniya orbit
    }
    index = older.index_of(list(expected))
    assert np.all(index >= 0)
    for (norad_id, names), i in zip(expected.items(), index):
        assert ORBIT_CLASSES[classes[i]] in names, (norad_id, older.names[i])


def test_classify_rules_apply_in_order():
    codes = classify_orbits(
        rev_per_day=[15.5, 15.2, 15.0, 1.0027, 2.0, 2.0, 14.0, 12.0],
        eccentricity=[0.0001, 0.3, 0.001, 0.0002, 0.7, 0.001, 0.001, 0.02],
        perigee_height_km=[550.0, 300.0, 420.0, 35786.0, 1000.0, 20000.0, 900.0, 1300.0],
        bstar=[5e-5, 2e-3, 3e-4, 0.0, 0.0, 0.0, -6e-4, 1e-4],
        names=["STARLINK-1", "starlink-2", "ISS", "SES-1", "ARKTIKA", "GPS", "DEBRIS", "ONEWEB-1"],
    )
    assert [ORBIT_CLASSES[c] for c in codes] == [
        "starlink",
        "starlink_manoeuvring",  # a name prefix beats the eccentricity
        "leo_drag",
        "geo",
        "heo",
        "meo",
        "leo_drag",  # |B*| counts: a negative B* is unmodelled acceleration too
        "oneweb",
    ]


def test_starlink_error_grows_with_bstar_as_the_classes_assume(fitted):
    _, diagnostics = fitted
    at_four_days = [
        diagnostics.classes[name].components["in_track_km"].sigma(4.0)
        for name in ("starlink", "starlink_drag", "starlink_high_drag", "starlink_manoeuvring")
    ]
    assert np.all(np.diff(at_four_days) > 0)


# ---------------------------------------------------------------------------- measurement


def shifted_epoch_tle(line1: str, seconds: float) -> str:
    """Line 1 with its epoch moved by ``seconds`` (the same elements, reached earlier)."""
    epoch = float(line1[18:32]) + seconds / SECONDS_PER_DAY
    line = line1[:18] + f"{epoch:014.8f}" + line1[32:68]
    return line + str(tle_checksum(line))


def test_a_set_whose_epoch_is_earlier_puts_the_object_ahead_by_that_time(snapshots):
    _, newer = snapshots
    i = newer.index_of([25544])[0]
    line1, line2 = newer.lines[i]
    truth = Catalogue.from_tle_text(f"ISS\n{line1}\n{line2}\n")
    early = Catalogue.from_tle_text(f"ISS\n{shifted_epoch_tle(line1, -10.0)}\n{line2}\n")
    d = measure_element_differences(early, truth, offsets_days=[-0.25, 0.0, 0.25])
    shift_s = truth.epoch_unix_s[0] - early.epoch_unix_s[0]
    assert shift_s == pytest.approx(10.0, abs=1e-3)
    # Ten seconds ahead along a 7.7 km/s orbit: the timing is the shift, the rest is tiny.
    np.testing.assert_allclose(d.component("timing_s"), shift_s, rtol=1e-3)
    np.testing.assert_allclose(d.component("in_track_km"), 76.6, rtol=0.02)
    assert np.all(np.abs(d.component("radial_km")) < 1.0)
    assert np.all(np.abs(d.component("cross_track_km")) < 0.01)
    np.testing.assert_allclose(
        d.component("in_track_arcsec"),
        np.degrees(d.component("in_track_km") / 6790.0) * 3600,
        rtol=0.01,
    )
    np.testing.assert_allclose(d.age_days, shift_s / SECONDS_PER_DAY + np.array([[-0.25, 0, 0.25]]))


def test_the_same_element_set_is_no_truth_for_itself(snapshots):
    _, newer = snapshots
    d = measure_element_differences(newer, newer)
    assert len(d) == 0 and d.identical == len(newer)


# -------------------------------------------------------------------------------- the fit


def test_growth_law_fit_recovers_a_known_law():
    rng = np.random.default_rng(7)
    n_objects, n_times = 20000, 25
    ages = rng.uniform(2.0, 8.0, n_objects)[:, None] + np.linspace(-0.5, 0.5, n_times)
    true = np.sqrt(0.5**2 + (2.0 * ages) ** 2)  # a floor and linear growth, no drag
    values = rng.standard_normal(n_objects)[:, None] * true  # one draw per object, as in data
    objects = np.repeat(np.arange(n_objects), n_times).reshape(n_objects, n_times)
    law = fit_growth_law(ages.ravel(), values.ravel(), objects.ravel(), n_bins=12)
    for age in (3.0, 5.0, 7.0):
        assert law.sigma(age) == pytest.approx(np.sqrt(0.25 + 4.0 * age**2), rel=0.05)
    assert law.tail_fraction < 1e-3
    low, high = law.sigma_range(5.0)
    assert low <= law.sigma(5.0) <= high


# ------------------------------------------------------------------------------- the model


def test_sigmas_broadcast_and_are_even_in_age(shipped):
    codes = np.arange(len(ORBIT_CLASSES))
    ahead = shipped.sigmas(codes, 3.0)
    behind = shipped.sigmas(codes, -3.0)
    for a, b in zip(ahead, behind):
        assert a.shape == (len(ORBIT_CLASSES),)
        np.testing.assert_array_equal(a, b)
    grid = shipped.sigmas(codes[:, None], np.linspace(0.0, 10.0, 11)[None, :])
    assert grid.in_track_km.shape == (len(ORBIT_CLASSES), 11)
    assert np.all(np.diff(grid.in_track_km, axis=1) >= 0)
    np.testing.assert_allclose(grid.radial_km[:, 0], shipped.coefficients[:, 0, 0])


def test_sigmas_for_a_catalogue_use_each_sets_class_and_age(shipped, snapshots):
    older, _ = snapshots
    time_unix_s = float(np.median(older.epoch_unix_s)) + 2 * SECONDS_PER_DAY
    sigmas = shipped.sigmas_for(older, time_unix_s)
    assert sigmas.timing_s.shape == (len(older),)
    i = older.index_of([25544])[0]
    age = (time_unix_s - older.epoch_unix_s[i]) / SECONDS_PER_DAY
    iss = shipped.sigmas(orbit_classes(older)[i], age)
    assert sigmas.in_track_km[i] == iss.in_track_km
    assert np.all(np.isfinite(sigmas.in_track_km)) and np.all(sigmas.in_track_km > 0)


def test_table_round_trips_and_bad_tables_name_the_field(shipped, tmp_path):
    path = tmp_path / "model.json"
    write_element_error_model(shipped, path)
    again = read_element_error_model(path)
    np.testing.assert_array_equal(again.coefficients, shipped.coefficients)
    assert again.method == shipped.method and again.basis == shipped.basis

    table = json.loads(path.read_text())
    del table["classes"]["geo"]["timing_s"]
    path.write_text(json.dumps(table))
    with pytest.raises(FormatError, match="classes.geo.*timing_s"):
        read_element_error_model(path)

    table = shipped.to_dict()
    table["classes"]["heo"]["radial_km"]["s0"] = -1.0
    with pytest.raises(FormatError, match="non-negative"):
        ElementErrorModel.from_dict(table)
    with pytest.raises(FormatError, match="format"):
        ElementErrorModel.from_dict({**shipped.to_dict(), "format": "something/2"})
    path.write_text("{not json")
    with pytest.raises(FormatError, match="not JSON"):
        read_element_error_model(path)


def test_every_component_has_a_law_for_every_class(shipped):
    assert shipped.coefficients.shape == (len(ORBIT_CLASSES), len(COMPONENTS), 3)
    at_four_days = shipped.sigma("in_track_km", np.arange(len(ORBIT_CLASSES)), 4.0)
    assert np.all(at_four_days > 0)

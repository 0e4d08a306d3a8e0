"""Track-to-catalogue correlation on real element sets from the shared CelesTrak snapshot.

Tracks are synthesised from what :func:`~orbitlink.tracking.predict.predict_sky` says of a real
object at a time, with noise drawn from a realistic track covariance (2 arcsec, 0.5 arcsec/s: a
confirmed track after a few one-second frames). Element-set error is simulated the way it arises: an
object that is late or early along its orbit is the same element set with its mean anomaly
changed, so the "truth" is predicted from the edited set and correlated against the original.
Shifts are given in sigmas of the fitted error model (docs/error-model.md) for the object's
orbit class and age, the scale the correlator judges them on. The frames are a week after the
snapshot's epochs, so the catalogue is a week old; the GEO and whole-sky tests are a day after.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from orbitlink.tracking.catalogue import Catalogue, tle_checksum
from orbitlink.tracking.correlation import (
    CorrelationSettings,
    correlate_tracks,
    measure_candidates,
)
from orbitlink.tracking.correlation.error_model import element_priors
from orbitlink.tracking.models import Association, FieldOfView, Sensor, TrackUpdate
from orbitlink.tracking.predict import SkyPredictor, predict_sky
from orbitlink.tracking.times import datetime_from_unix, jd_from_unix

WEEK_ON = datetime(2026, 6, 6, 3, 0, tzinfo=UTC).timestamp()  # ~7 days after epochs
DAY_ON = datetime(2026, 5, 31, 3, 0, tzinfo=UTC).timestamp()  # ~1 day after
SITE = Sensor(
    sensor_id="kitt-peak", lat_deg=31.9583, lon_deg=-111.5967, alt_m=2096.0, sigma_arcsec=1.5
)
POSITION_SIGMA_DEG = 2.0 / 3600.0
RATE_SIGMA_DEG_S = 0.5 / 3600.0
COVARIANCE = np.diag([POSITION_SIGMA_DEG**2] * 2 + [RATE_SIGMA_DEG_S**2] * 2)


@pytest.fixture(scope="module")
def catalogue(catalog_dir: Path) -> Catalogue:
    return Catalogue.from_path(catalog_dir)


@pytest.fixture(scope="module")
def predictor(catalogue: Catalogue) -> SkyPredictor:
    return sgp4_predictor(catalogue)


@pytest.fixture(scope="module")
def starlink_ids(catalog_dir: Path) -> np.ndarray:
    return Catalogue.from_path(catalog_dir / "starlink.tle").norad_ids


@pytest.fixture(scope="module")
def geo_ids(catalog_dir: Path) -> np.ndarray:
    return Catalogue.from_path(catalog_dir / "geo.tle").norad_ids


# ------------------------------------------------------------------------------ helpers


def sgp4_predictor(catalogue: Catalogue) -> SkyPredictor:
    """A predictor calling sgp4 at the exact times (no grid nodes): the frames here are single
    times days apart, not a stream."""
    return SkyPredictor(catalogue, grid_step_s=None)


def shifted(catalogue: Catalogue, norad_id: int, late_s: float) -> Catalogue:
    """The object's element set, ``late_s`` seconds late along its orbit (early if negative):
    its mean anomaly moved back by the mean motion times the shift."""
    record = catalogue.element_set(int(catalogue.index_of([norad_id])[0]))
    line2 = record["line2"]
    mean_motion_deg_s = float(line2[52:63]) * 360.0 / 86400.0
    anomaly = (float(line2[43:51]) - mean_motion_deg_s * late_s) % 360.0
    line2 = f"{line2[:43]}{anomaly:8.4f}{line2[51:68]}"
    return Catalogue.from_records([dict(record, line2=line2 + str(tle_checksum(line2)))])


def track_of(
    truth: Catalogue,
    time_unix_s: float,
    track_id: str,
    rng: np.random.Generator,
    sensor: Sensor = SITE,
    *,
    rate_scale: float = 1.0,
    turn_deg: float = 0.0,
    offset_deg: tuple[float, float] = (0.0, 0.0),
) -> TrackUpdate:
    """A confirmed track of the (single) object of ``truth`` with noise from COVARIANCE.

    ``rate_scale`` and ``turn_deg`` corrupt its angular speed and direction of motion;
    ``offset_deg`` moves it on the sky (east, north).
    """
    p = predict_sky(truth, sensor, time_unix_s)
    assert p.valid[0]
    noise = rng.multivariate_normal(np.zeros(4), COVARIANCE)
    turn = np.radians(turn_deg)
    rx, ry = float(p.ra_rate_deg_s[0]), float(p.dec_rate_deg_s[0])
    rx, ry = (
        rate_scale * (rx * np.cos(turn) - ry * np.sin(turn)),
        rate_scale * (rx * np.sin(turn) + ry * np.cos(turn)),
    )
    dec = float(p.dec_deg[0]) + offset_deg[1] + noise[1]
    ra = (float(p.ra_deg[0]) + (offset_deg[0] + noise[0]) / np.cos(np.radians(dec))) % 360.0
    return TrackUpdate(
        time=datetime_from_unix(time_unix_s),
        track_id=track_id,
        sensor_id=sensor.sensor_id,
        frame_id="f1",
        status="confirmed",
        ra_deg=ra,
        dec_deg=dec,
        ra_rate_deg_s=rx + noise[2],
        dec_rate_deg_s=ry + noise[3],
        covariance=COVARIANCE.tolist(),
        n_updates=8,
        det_id="f1:0",
    )


def visible(
    catalogue: Catalogue,
    ids: np.ndarray,
    time_unix_s: float,
    min_elevation_deg: float = 25.0,
    sensor: Sensor = SITE,
) -> np.ndarray:
    """NORAD ids among ``ids`` well above the site's horizon at the time."""
    index = catalogue.index_of(ids)
    p = predict_sky(catalogue, sensor, time_unix_s, index=index[index >= 0])
    ok = p.valid & p.above_horizon
    if not sensor.is_space_based:
        ok &= p.elevation_deg > min_elevation_deg
    return p.norad_ids[ok]


def lonely(
    catalogue: Catalogue, ids: np.ndarray, time_unix_s: float, min_gap_s: float = 150.0
) -> np.ndarray:
    """Ids of low-orbit objects with no other object of ``ids`` in (nearly) the same orbital
    plane within ``min_gap_s`` along it: no train neighbour can be confused with them."""
    index = catalogue.index_of(ids)
    normal, along, rate = _plane_geometry(catalogue, index, time_unix_s)
    same_plane = normal @ normal.T > np.cos(np.radians(1.0))
    np.fill_diagonal(same_plane, False)
    gap_s = np.arccos(np.clip(along @ along.T, -1, 1)) / rate[:, None]
    crowded = np.any(same_plane & (gap_s < min_gap_s), axis=1)
    return catalogue.norad_ids[index[~crowded]]


def _plane_geometry(
    catalogue: Catalogue, index: np.ndarray, time_unix_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Orbit normals, position directions and mean angular rates (rad/s), TEME."""
    jd, fraction = jd_from_unix(np.array([time_unix_s]))
    sub = catalogue.subset(index)
    _, r, v = sub.satrec_array.sgp4(jd, fraction)
    r, v = r[:, 0], v[:, 0]
    normal = np.cross(r, v)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    radius = np.linalg.norm(r, axis=1)
    return normal, r / radius[:, None], np.linalg.norm(v, axis=1) / radius


def by_track(associations: list[Association]) -> dict[str, Association]:
    return {a.track_id: a for a in associations}


def timing_sigma_s(predictor: SkyPredictor, norad_id: int, time_unix_s: float) -> float:
    """The fitted 1-sigma timing error of the object's element set at ``time_unix_s``."""
    catalogue = predictor.catalogue
    k = int(catalogue.index_of([norad_id])[0])
    age_days = (time_unix_s - catalogue.epoch_unix_s[k]) / 86400.0
    code = predictor.orbit_classes()[k : k + 1]
    return float(element_priors(CorrelationSettings(), code, np.array([age_days])).timing_s[0])


def position_sigmas_arcsec(
    predictor: SkyPredictor, norad_id: int, time_unix_s: float, sensor: Sensor = SITE
) -> tuple[float, float]:
    """The fitted 1-sigma errors of the object's element set along and across its track, as
    angles at its range from ``sensor`` (radial error folded into both)."""
    catalogue = predictor.catalogue
    k = int(catalogue.index_of([norad_id])[0])
    age_days = (time_unix_s - catalogue.epoch_unix_s[k]) / 86400.0
    priors = element_priors(
        CorrelationSettings(), predictor.orbit_classes()[k : k + 1], np.array([age_days])
    )
    range_km = float(predict_sky(catalogue, sensor, time_unix_s, index=[k]).range_km[0])
    along = float(np.hypot(priors.in_track_km, priors.radial_km)[0])
    across = float(np.hypot(priors.cross_track_km, priors.radial_km)[0])
    return (np.degrees(along / range_km) * 3600.0, np.degrees(across / range_km) * 3600.0)


def informative(
    predictor: SkyPredictor, ids: np.ndarray, time_unix_s: float, max_sigma_s: float = 10.0
) -> np.ndarray:
    """Ids among ``ids`` whose element sets still time the object within ``max_sigma_s``
    (1 sigma) at ``time_unix_s``: the classes a week-old set can name an object from a single
    frame (the manoeuvring and high-drag Starlinks are off by minutes at a week)."""
    return np.array(
        [n for n in ids if timing_sigma_s(predictor, int(n), time_unix_s) <= max_sigma_s],
        dtype=np.int64,
    )


# ------------------------------------------------------------------------------ naming


def test_geo_objects_are_named_by_angular_offset(
    catalogue: Catalogue, predictor: SkyPredictor, geo_ids: np.ndarray
):
    rng = np.random.default_rng(1)
    candidates = visible(catalogue, geo_ids, DAY_ON, min_elevation_deg=20.0)
    chosen = rng.choice(candidates, 8, replace=False)
    # Move each object 1.5 sigmas of its set's error along (east: GEO drifts east against the
    # stars seen from the ground) or across (north).
    offsets = []
    for i, nid in enumerate(chosen):
        along, across = position_sigmas_arcsec(predictor, int(nid), DAY_ON)
        offsets.append((1.5 * along / 3600.0, 0.0) if i % 2 else (0.0, 1.5 * across / 3600.0))
    tracks = [
        track_of(
            catalogue.subset(catalogue.index_of([nid])), DAY_ON, f"geo{i}", rng, offset_deg=offset
        )
        for i, (nid, offset) in enumerate(zip(chosen, offsets))
    ]
    result = correlate_tracks(tracks, SITE, predictor)
    assert [a.norad_id for a in result] == [int(n) for n in chosen]
    for i, a in enumerate(result):
        assert not a.uct and a.confidence > 0.4
        assert a.direction_residual_deg is not None and abs(a.direction_residual_deg) < 10.0
        assert 0.5 < a.element_age_days < 3.0
        assert a.element_epoch is not None and a.name
        # Slow movers are matched by angle, without a time offset. GEO drifts east (+RA) at
        # the sidereal rate, so an offset north is across its path (to the left) and one east
        # is along it.
        assert a.along_track_s is None
        if i % 2:
            assert abs(a.cross_track_arcsec) < 10.0
        else:
            assert a.cross_track_arcsec == pytest.approx(offsets[i][1] * 3600.0, abs=10.0)


def test_week_old_geo_set_is_named_150_arcsec_off(
    catalogue: Catalogue, predictor: SkyPredictor, geo_ids: np.ndarray
):
    # A week-old GEO set is tens of km off along its track (the fitted model: 36 km, 190
    # arcsec, 1 sigma) and a few across it: 150 arcsec along (east, where a GEO object seen
    # from the ground drifts) is within its error.
    rng = np.random.default_rng(2)
    nid = int(rng.choice(visible(catalogue, geo_ids, WEEK_ON, 20.0)))
    track = track_of(
        catalogue.subset(catalogue.index_of([nid])),
        WEEK_ON,
        "g",
        rng,
        offset_deg=(-150 / 3600.0, 0.0),
    )
    [a] = correlate_tracks([track], SITE, predictor)
    assert a.norad_id == nid and 6.0 < a.element_age_days < 8.0
    # The same offset is too much for a fresh set.
    [fresh] = correlate_tracks(
        [
            track_of(
                catalogue.subset(catalogue.index_of([nid])),
                DAY_ON,
                "g",
                rng,
                offset_deg=(-150 / 3600.0, 0.0),
            )
        ],
        SITE,
        predictor,
    )
    assert fresh.norad_id != nid


def test_starlink_2_sigma_late_is_named_with_its_along_track_offset(
    catalogue: Catalogue, predictor: SkyPredictor, starlink_ids: np.ndarray
):
    rng = np.random.default_rng(3)
    ids = informative(
        predictor, lonely(catalogue, visible(catalogue, starlink_ids, WEEK_ON), WEEK_ON), WEEK_ON
    )
    chosen = rng.choice(ids, 5, replace=False)
    late = [2.0 * timing_sigma_s(predictor, int(nid), WEEK_ON) for nid in chosen]
    tracks = [
        track_of(shifted(catalogue, nid, shift), WEEK_ON, f"s{i}", rng)
        for i, (nid, shift) in enumerate(zip(chosen, late))
    ]
    for a, nid, shift in zip(correlate_tracks(tracks, SITE, predictor), chosen, late):
        assert a.norad_id == nid, a
        assert not a.ambiguous and a.confidence > 0.9
        assert a.along_track_s == pytest.approx(shift, abs=0.5)
        # Seconds are degrees along the path; across it the track is on the path.
        assert abs(a.cross_track_arcsec) < 60.0
        assert abs(a.direction_residual_deg) < 0.5 and abs(a.rate_residual) < 0.01


def test_mean_anomaly_shift_is_recovered_to_half_a_second(
    catalogue: Catalogue, predictor: SkyPredictor, starlink_ids: np.ndarray, catalog_dir: Path
):
    rng = np.random.default_rng(4)
    oneweb = Catalogue.from_path(catalog_dir / "oneweb.tle").norad_ids
    leo = np.r_[
        informative(
            predictor,
            lonely(catalogue, visible(catalogue, starlink_ids, WEEK_ON), WEEK_ON),
            WEEK_ON,
        )[:20],
        lonely(catalogue, visible(catalogue, oneweb, WEEK_ON, 15.0), WEEK_ON)[:5],
    ]
    # Whole and fractional sigmas, early and late: the offset the arc measures, whatever its size.
    in_sigmas = np.array([-2.5, -1.6, -0.8, -0.2, 0.0, 0.3, 1.1, 1.9, 2.5])
    chosen = rng.choice(leo, len(in_sigmas), replace=False)
    shifts = np.array(
        [m * timing_sigma_s(predictor, int(n), WEEK_ON) for m, n in zip(in_sigmas, chosen)]
    )
    tracks = [
        track_of(shifted(catalogue, nid, late), WEEK_ON, f"t{i}", rng)
        for i, (nid, late) in enumerate(zip(chosen, shifts))
    ]
    result = correlate_tracks(tracks, SITE, predictor)
    assert [a.norad_id for a in result] == [int(n) for n in chosen]
    recovered = np.array([a.along_track_s for a in result])
    assert np.all(np.abs(recovered - shifts) < 0.5), recovered - shifts


def test_space_based_sensor_names_shifted_objects(
    catalogue: Catalogue,
    predictor: SkyPredictor,
    starlink_ids: np.ndarray,
    geo_ids: np.ndarray,
    catalog_dir: Path,
):
    # A camera flying on a real low-orbit element set moves 7.5 km/s: its own motion during
    # the shift must not be read as cross-track error.
    stations = Catalogue.from_path(catalog_dir / "stations.tle")
    record = stations.element_set(0)
    camera = Sensor(sensor_id="cam", tle=[record["line1"], record["line2"]], sigma_arcsec=2.0)
    rng = np.random.default_rng(5)
    geo = rng.choice(visible(catalogue, geo_ids, DAY_ON, sensor=camera), 3, replace=False)
    leo = rng.choice(
        informative(
            predictor,
            lonely(catalogue, visible(catalogue, starlink_ids, DAY_ON, sensor=camera), DAY_ON),
            DAY_ON,
            max_sigma_s=2.0,
        ),
        3,
        replace=False,
    )
    # GEO moves 3 km/s: 0.3 s is 1 km, 5 arcsec, a day-old GEO error. Low orbits: up to 2
    # sigmas of their sets' timing at a day.
    sigmas = [timing_sigma_s(predictor, int(n), DAY_ON) for n in leo]
    shifts = [-0.3, 0.15, 0.3, -1.5 * sigmas[0], 1.0 * sigmas[1], 2.0 * sigmas[2]]
    tracks = [
        track_of(shifted(catalogue, nid, late), DAY_ON, f"c{i}", rng, sensor=camera)
        for i, (nid, late) in enumerate(zip(np.r_[geo, leo], shifts))
    ]
    result = correlate_tracks(tracks, camera, predictor)
    assert [a.norad_id for a in result] == [int(n) for n in np.r_[geo, leo]]
    for a, late in zip(result[3:], shifts[3:]):
        assert a.along_track_s == pytest.approx(late, abs=0.5)
        assert abs(a.cross_track_arcsec) < 30.0


# ------------------------------------------------------------------------------ ambiguity


def test_track_between_train_neighbours_is_ambiguous(
    catalogue: Catalogue, predictor: SkyPredictor, starlink_ids: np.ndarray
):
    rng = np.random.default_rng(6)
    ids = visible(catalogue, starlink_ids, WEEK_ON, 30.0)
    index = catalogue.index_of(ids)
    normal, along, rate = _plane_geometry(catalogue, index, WEEK_ON)
    # Pairs in the same plane (normals within 0.02 deg) 15-30 s apart along it.
    coplanar = normal @ normal.T > np.cos(np.radians(0.02))
    gap_s = np.arccos(np.clip(along @ along.T, -1, 1)) / rate[:, None]
    rows, cols = np.nonzero(np.triu(coplanar & (gap_s > 15) & (gap_s < 30)))
    assert len(rows), "no train neighbours above the site (the test needs one pair)"
    a, b = index[rows[0]], index[cols[0]]
    gap = gap_s[rows[0], cols[0]]
    # Which one leads: b is ahead of a when a x b points along the orbit normal.
    lead = np.dot(np.cross(along[rows[0]], along[cols[0]]), normal[rows[0]]) > 0
    # Put the track halfway: a moved forward by half the gap towards b (or back, if b trails).
    half = gap / 2.0 if lead else -gap / 2.0
    nid_a, nid_b = int(catalogue.norad_ids[a]), int(catalogue.norad_ids[b])
    track = track_of(shifted(catalogue, nid_a, -half), WEEK_ON, "between", rng)
    [assoc] = correlate_tracks([track], SITE, predictor)
    assert assoc.ambiguous and not assoc.uct
    assert {assoc.norad_id, assoc.runner_up_norad_id} == {nid_a, nid_b}
    assert assoc.n_candidates >= 2
    # Scores are -2 log likelihood ratios: the runner-up within the ambiguity margin.
    assert assoc.runner_up_score - assoc.score < 2 * CorrelationSettings().ambiguity_log_odds
    assert assoc.confidence < 0.6
    # A track exactly on a, with an error model for much better elements (a tenth of the
    # fitted sigmas), is named without doubt: the neighbour is then far outside its error.
    exact = track_of(catalogue.subset([a]), WEEK_ON, "exact", rng)
    fresh = CorrelationSettings(element_sigma_scale=0.1)
    [sure] = correlate_tracks([exact], SITE, predictor, fresh)
    assert sure.norad_id == nid_a and not sure.ambiguous and sure.confidence > 0.9


def test_co_located_geo_objects_are_ambiguous(
    catalogue: Catalogue, predictor: SkyPredictor, geo_ids: np.ndarray
):
    """Two GEO objects sharing a slot (under an arc-minute apart) cannot be told apart by a
    day-old catalogue: a track between them is named with the other as runner-up, flagged."""
    rng = np.random.default_rng(14)
    ids = visible(catalogue, geo_ids, DAY_ON, 20.0)
    p = predict_sky(catalogue, SITE, DAY_ON, index=catalogue.index_of(ids))
    sky = np.c_[p.ra_deg * np.cos(np.radians(p.dec_deg)), p.dec_deg]
    separation = np.hypot(*(sky[:, None, :] - sky[None, :, :]).transpose(2, 0, 1)) * 3600.0
    np.fill_diagonal(separation, np.inf)
    a, b = np.unravel_index(np.argmin(separation), separation.shape)
    assert separation[a, b] < 60.0, "no co-located GEO pair above the site"
    pair = {int(ids[a]), int(ids[b])}
    # Halfway between the two, moving as the first does.
    midway = (sky[b] - sky[a]) / 2.0
    track = track_of(
        catalogue.subset(catalogue.index_of([ids[a]])),
        DAY_ON,
        "slot",
        rng,
        offset_deg=(midway[0], midway[1]),
    )
    [assoc] = correlate_tracks([track], SITE, predictor)
    assert assoc.ambiguous and {assoc.norad_id, assoc.runner_up_norad_id} == pair
    assert assoc.confidence < 0.95 and assoc.n_candidates >= 2


# ------------------------------------------------------------------------------ UCTs and conflicts


def test_object_missing_from_catalogue_is_a_uct(
    catalogue: Catalogue, predictor: SkyPredictor, starlink_ids: np.ndarray, geo_ids: np.ndarray
):
    rng = np.random.default_rng(7)
    leo = int(
        rng.choice(
            informative(
                predictor,
                lonely(catalogue, visible(catalogue, starlink_ids, WEEK_ON), WEEK_ON),
                WEEK_ON,
            )
        )
    )
    geo_all = visible(catalogue, geo_ids, WEEK_ON, 20.0)
    # A GEO object with no other catalogue object within a degree of it.
    p = predict_sky(catalogue, SITE, WEEK_ON)
    sky = np.c_[p.ra_deg, p.dec_deg]
    geo = next(
        int(n)
        for n in geo_all
        if np.sum(np.hypot(*(sky[p.valid] - sky[catalogue.index_of([n])[0]]).T) < 1.0) == 1
    )
    tracks = [
        track_of(catalogue.subset(catalogue.index_of([nid])), WEEK_ON, f"m{i}", rng)
        for i, nid in enumerate((leo, geo))
    ]
    named = correlate_tracks(tracks, SITE, predictor)
    assert [a.norad_id for a in named] == [leo, geo]
    missing = correlate_tracks(tracks, SITE, sgp4_predictor(catalogue.without([leo, geo])))
    for a in missing:
        assert a.uct and a.norad_id is None and a.name is None
        assert a.cross_track_arcsec is None and a.along_track_s is None and a.score is None
        assert a.element_epoch is None and a.n_candidates == 0
        assert a.confidence > 0.9


def test_two_tracks_never_claim_the_same_object(
    catalogue: Catalogue, predictor: SkyPredictor, starlink_ids: np.ndarray
):
    rng = np.random.default_rng(8)
    ids = informative(
        predictor, lonely(catalogue, visible(catalogue, starlink_ids, WEEK_ON), WEEK_ON), WEEK_ON
    )
    nid = int(rng.choice(ids))
    sigma = timing_sigma_s(predictor, nid, WEEK_ON)
    # Two tracks on the same object's path: the better one gets it, the other is a UCT that
    # names the claimed object as its runner-up.
    close = track_of(shifted(catalogue, nid, 0.5 * sigma), WEEK_ON, "close", rng)
    farther = track_of(shifted(catalogue, nid, 2.0 * sigma), WEEK_ON, "farther", rng)
    result = by_track(correlate_tracks([farther, close], SITE, predictor))
    assert result["close"].norad_id == nid
    assert result["farther"].uct and result["farther"].runner_up_norad_id == nid
    # The posteriors of one object wanted by two tracks: close is it, farther is it, or
    # neither is (weights e^L_close, e^L_farther, 1).
    l_close, l_farther = -result["close"].score / 2, -result["farther"].runner_up_score / 2
    total = np.exp(l_close) + np.exp(l_farther) + 1.0
    assert result["close"].confidence == pytest.approx(np.exp(l_close) / total, rel=1e-6)
    assert result["farther"].confidence == pytest.approx((np.exp(l_close) + 1.0) / total, rel=1e-6)


def test_whole_sky_frame_is_named_one_to_one(catalogue: Catalogue, predictor: SkyPredictor):
    """Every object above the site as a track (a day after epoch): all but the genuinely
    ambiguous are named right, and no object is claimed twice."""
    rng = np.random.default_rng(9)
    p = predict_sky(catalogue, SITE, DAY_ON)
    up = np.flatnonzero(p.valid & (p.elevation_deg > 15.0))
    up = rng.choice(up, min(len(up), 300), replace=False)
    noise = rng.multivariate_normal(np.zeros(4), COVARIANCE, size=len(up))
    time = datetime_from_unix(DAY_ON)
    tracks = [
        TrackUpdate(
            time=time,
            track_id=str(i),
            sensor_id=SITE.sensor_id,
            status="confirmed",
            ra_deg=float(p.ra_deg[j] + n[0]) % 360.0,
            dec_deg=float(p.dec_deg[j] + n[1]),
            ra_rate_deg_s=float(p.ra_rate_deg_s[j] + n[2]),
            dec_rate_deg_s=float(p.dec_rate_deg_s[j] + n[3]),
            covariance=COVARIANCE.tolist(),
            n_updates=8,
        )
        for i, (j, n) in enumerate(zip(up, noise))
    ]
    result = correlate_tracks(tracks, SITE, predictor)
    named = [a.norad_id for a in result if not a.uct]
    assert len(named) == len(set(named))
    truth = catalogue.norad_ids[up]
    right = np.array([a.norad_id == t for a, t in zip(result, truth)])
    ambiguous = np.array([a.ambiguous for a in result])
    assert right.mean() > 0.97
    # Wrong names only where the correlator said it was unsure.
    assert np.all(right | ambiguous | np.array([a.confidence < 0.6 for a in result]))


# ------------------------------------------------------------------------------ rejection


@pytest.mark.parametrize(
    "corruption",
    [dict(turn_deg=6.0), dict(turn_deg=180.0), dict(rate_scale=1.2), dict(rate_scale=0.8)],
)
def test_wrong_motion_is_rejected(
    catalogue: Catalogue, predictor: SkyPredictor, starlink_ids: np.ndarray, corruption: dict
):
    rng = np.random.default_rng(10)
    ids = informative(
        predictor, lonely(catalogue, visible(catalogue, starlink_ids, WEEK_ON), WEEK_ON), WEEK_ON
    )
    nid = int(rng.choice(ids))
    truth = catalogue.subset(catalogue.index_of([nid]))
    good = track_of(truth, WEEK_ON, "good", rng)
    bad = track_of(truth, WEEK_ON, "bad", rng, **corruption)
    [ok] = correlate_tracks([good], SITE, predictor)
    assert ok.norad_id == nid
    [rejected] = correlate_tracks([bad], SITE, predictor)
    assert rejected.norad_id != nid
    pairs = measure_candidates([bad], SITE, predictor)
    mine = pairs.object_index == catalogue.index_of([nid])[0]
    assert mine.sum() <= 1
    assert not (pairs.log_lr[mine] >= CorrelationSettings().name_log_odds).any()


def test_field_of_view_limits_the_search_without_changing_the_answer(
    catalogue: Catalogue, predictor: SkyPredictor, starlink_ids: np.ndarray
):
    rng = np.random.default_rng(11)
    nid = int(rng.choice(lonely(catalogue, visible(catalogue, starlink_ids, WEEK_ON), WEEK_ON)))
    track = track_of(shifted(catalogue, nid, -15.0), WEEK_ON, "f", rng)
    fov = FieldOfView(ra_deg=track.ra_deg, dec_deg=track.dec_deg, radius_deg=1.0)
    [with_fov] = correlate_tracks([track], SITE, predictor, fov=fov)
    [without] = correlate_tracks([track], SITE, predictor)
    assert with_fov.norad_id == without.norad_id == nid
    assert with_fov.along_track_s == pytest.approx(without.along_track_s)
    # A field on the other side of the sky holds nothing that could be this track.
    far = FieldOfView(ra_deg=(track.ra_deg + 180.0) % 360.0, dec_deg=-track.dec_deg, radius_deg=1.0)
    assert len(measure_candidates([track], SITE, predictor, fov=far)) < len(
        measure_candidates([track], SITE, predictor)
    )


# ------------------------------------------------------------------------------ input handling


def test_empty_inputs(catalogue: Catalogue, predictor: SkyPredictor, starlink_ids: np.ndarray):
    assert correlate_tracks([], SITE, predictor) == []
    rng = np.random.default_rng(12)
    nid = int(visible(catalogue, starlink_ids, WEEK_ON)[0])
    track = track_of(catalogue.subset(catalogue.index_of([nid])), WEEK_ON, "e", rng)
    [a] = correlate_tracks([track], SITE, sgp4_predictor(Catalogue()))
    assert a.uct and a.confidence == 1.0 and a.track_id == "e" and a.frame_id == "f1"


def test_bad_input_is_named(
    catalogue: Catalogue, predictor: SkyPredictor, starlink_ids: np.ndarray
):
    rng = np.random.default_rng(13)
    nid = int(visible(catalogue, starlink_ids, WEEK_ON)[0])
    truth = catalogue.subset(catalogue.index_of([nid]))
    first = track_of(truth, WEEK_ON, "a", rng)
    later = track_of(truth, WEEK_ON + 1.0, "b", rng)
    with pytest.raises(ValueError, match=r"tracks\[1\]\.time"):
        correlate_tracks([first, later], SITE, predictor)
    other = Sensor(sensor_id="elsewhere", lat_deg=0.0, lon_deg=0.0)
    with pytest.raises(ValueError, match=r"tracks\[0\]\.sensor_id"):
        correlate_tracks([first], other, predictor)
    broken = first.model_copy(update={"covariance": [[-1.0, 0, 0, 0]] + COVARIANCE.tolist()[1:]})
    with pytest.raises(ValueError, match=r"tracks\[0\]\.covariance"):
        correlate_tracks([broken], SITE, predictor)
    with pytest.raises(ValueError, match="gate_sigma"):
        CorrelationSettings(gate_sigma=0.0)
    with pytest.raises(ValueError, match="max_window_s"):
        CorrelationSettings(max_window_s=float("nan"))

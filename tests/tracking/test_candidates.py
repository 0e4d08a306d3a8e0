"""The per-sensor candidate cache: a superset of every object a frame can need, and the same
records with it as without it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from orbitlink.tracking.association import candidate_pairs
from orbitlink.tracking.candidates import CandidateCache
from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.correlation import CorrelationSettings
from orbitlink.tracking.correlation.objects import object_states
from orbitlink.tracking.correlation.tracks import frame_tracks
from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors
from orbitlink.tracking.models import FieldOfView, Sensor, TrackUpdate
from orbitlink.tracking.pipeline import Pipeline
from orbitlink.tracking.predict import SkyPredictor
from orbitlink.tracking.simulate import DEFAULT_SENSORS, ScenarioSettings, simulate_scenario
from orbitlink.tracking.sky import unit_from_radec
from orbitlink.tracking.times import datetime_from_unix

T0 = 1780201200.0  # 2026-05-31 04:20 UTC, night at both ground sites
SETTINGS = CorrelationSettings()


@pytest.fixture(scope="module")
def catalogue(catalog_dir: Path) -> Catalogue:
    return Catalogue.from_path(catalog_dir)


def _sensors(catalogue: Catalogue) -> list[Sensor]:
    neossat = catalogue.lines[int(catalogue.index_of([39089])[0])]
    return [
        Sensor(sensor_id="ctio", lat_deg=-30.169, lon_deg=-70.806, alt_m=2207, sigma_arcsec=2),
        Sensor(sensor_id="kpno", lat_deg=31.958, lon_deg=-111.597, alt_m=2096, sigma_arcsec=8),
        Sensor(sensor_id="neossat", tle=list(neossat), sigma_arcsec=4),
    ]


def _tracks(sensor: Sensor, time_s: float, fov: FieldOfView, rng) -> list[TrackUpdate]:
    """A few tracks spread over the field, some of them uncertain."""
    ra = fov.ra_deg + rng.uniform(-1, 1, 4) * fov.radius_deg / max(np.cos(np.radians(45)), 0.1)
    dec = np.clip(fov.dec_deg + rng.uniform(-0.7, 0.7, 4) * fov.radius_deg, -89, 89)
    var = np.array([1e-7, 1e-6, 3e-5, 1e-7])
    return [
        TrackUpdate(
            track_id=f"t{i}",
            sensor_id=sensor.sensor_id,
            time=datetime_from_unix(time_s),
            status="confirmed",
            ra_deg=float(ra[i] % 360.0),
            dec_deg=float(dec[i]),
            ra_rate_deg_s=0.01,
            dec_rate_deg_s=-0.002,
            covariance=np.diag([var[i], var[i], 1e-8, 1e-8]).tolist(),
            n_updates=5,
        )
        for i in range(4)
    ]


def _needed(predictor: SkyPredictor, sensor: Sensor, tracks, fov: FieldOfView | None) -> set[int]:
    """What the frame's identification reads of the whole catalogue: the objects within reach
    of the field, and the visible ones within the density radius of a track."""
    trk = frame_tracks(tracks, sensor)
    whole = predictor.at(sensor, trk.time_unix_s)
    _, observer_velocity = predictor.observer_state_gcrs_km(sensor, trk.time_unix_s)
    states = object_states(
        trk,
        whole,
        predictor.catalogue.epoch_unix_s,
        predictor.orbit_classes(),
        predictor.mean_motion_rad_s(),
        observer_velocity,
        sensor,
        SETTINGS,
        fov,
    )
    needed = set() if states is None else set(states.index.tolist())
    visible = np.flatnonzero(whole.valid & whole.above_horizon & whole.sunlit)
    _, near = candidate_pairs(
        trk.unit,
        np.full(len(trk), SETTINGS.density_radius_deg),
        unit_from_radec(whole.ra_deg[visible], whole.dec_deg[visible]),
    )
    return needed | set(visible[near].tolist())


def test_candidates_hold_every_object_a_frame_needs(catalogue):
    """Over four grid intervals, for a GEO survey site, a LEO camera and a space-based camera,
    each pointed where catalogued objects are and stepping its field: every object a frame's
    identification would read is among the sensor's candidates, and they are far fewer than
    the catalogue."""
    rng = np.random.default_rng(8)
    predictor = SkyPredictor(catalogue)
    checked = 0
    for sensor in _sensors(catalogue):
        cache = CandidateCache(predictor)
        start = predictor.at(sensor, T0)
        seen = np.flatnonzero(start.valid & start.above_horizon)
        for pointing in rng.choice(seen, 2, replace=False).tolist():
            ra, dec = float(start.ra_deg[pointing]), float(start.dec_deg[pointing])
            for time_s in T0 + np.arange(0.0, 120.0, 6.1):
                ra = (ra + 0.05) % 360.0  # the field drifts, then jumps back
                fov = FieldOfView(ra_deg=ra, dec_deg=dec, radius_deg=2.0)
                tracks = _tracks(sensor, time_s, fov, rng)
                trk = frame_tracks(tracks, sensor)
                index = cache.index_for(
                    sensor, trk.time_unix_s, fov, trk.unit, float(trk.position_var.max()), SETTINGS
                )
                needed = _needed(predictor, sensor, tracks, fov)
                missing = needed - set(index.tolist())
                assert not missing, (sensor.sensor_id, time_s, sorted(missing)[:5])
                assert len(index) < len(catalogue) / 5
                checked += len(needed)
    assert checked > 1000


def test_a_ground_frame_without_a_field_searches_its_sky_and_a_space_frame_everything(catalogue):
    """A ground site's frames without a field of view, with tracks anywhere above its horizon:
    every object their identification would read is among the candidates, which are the sky
    above the site (plus the objects that can rise within reach), not the whole catalogue. A
    space-based camera's frame without a field has no horizon: the whole catalogue (None)."""
    rng = np.random.default_rng(9)
    predictor = SkyPredictor(catalogue)
    ground, space = [s for s in _sensors(catalogue) if not s.is_space_based], _sensors(catalogue)[2]
    for sensor in ground:
        cache = CandidateCache(predictor)
        start = predictor.at(sensor, T0)
        for time_s in T0 + np.arange(0.0, 130.0, 13.7):
            pointing = int(rng.choice(np.flatnonzero(start.valid & start.above_horizon)))
            sky = FieldOfView(
                ra_deg=float(start.ra_deg[pointing]),
                dec_deg=float(start.dec_deg[pointing]),
                radius_deg=2.0,
            )
            tracks = _tracks(sensor, time_s, sky, rng)
            trk = frame_tracks(tracks, sensor)
            index = cache.index_for(
                sensor, trk.time_unix_s, None, trk.unit, float(trk.position_var.max()), SETTINGS
            )
            missing = _needed(predictor, sensor, tracks, None) - set(index.tolist())
            assert not missing, (sensor.sensor_id, time_s, sorted(missing)[:5])
            assert len(index) < 0.8 * len(catalogue)
        assert cache.rebuilds <= 4  # one per grid interval
    assert (
        CandidateCache(predictor).index_for(space, T0, None, np.zeros((0, 3)), 0.0, SETTINGS)
        is None
    )


def test_a_redefined_sensor_or_an_updated_catalogue_rebuilds_the_candidates(catalogue):
    """The candidates belong to one sensor definition and one catalogue revision: a sensor
    moved within the interval, or element sets applied, gets what a fresh cache gives."""
    predictor = SkyPredictor(catalogue.subset(np.arange(len(catalogue))))
    fov = FieldOfView(ra_deg=200.0, dec_deg=-20.0, radius_deg=2.0)
    here = Sensor(sensor_id="cam", lat_deg=-30.169, lon_deg=-70.806, alt_m=2207)
    there = here.model_copy(update={"lat_deg": 31.958, "lon_deg": -111.597})
    no_tracks = np.zeros((0, 3))
    cache = CandidateCache(predictor)
    first = cache.index_for(here, T0, fov, no_tracks, 1e-7, SETTINGS)
    moved = cache.index_for(there, T0 + 1.0, fov, no_tracks, 1e-7, SETTINGS)
    fresh = CandidateCache(predictor).index_for(there, T0 + 1.0, fov, no_tracks, 1e-7, SETTINGS)
    assert not np.array_equal(first, moved)
    np.testing.assert_array_equal(moved, fresh)
    line1, line2 = predictor.catalogue.lines[0]
    newer = line1[:18] + f"{float(line1[18:32]) + 0.5:014.8f}" + line1[32:68]
    newer += str(sum(int(c) if c.isdigit() else c == "-" for c in newer) % 10)
    assert predictor.catalogue.update(
        Catalogue.from_records([{"name": "moved", "line1": newer, "line2": line2}])
    )
    again = cache.index_for(there, T0 + 2.0, fov, no_tracks, 1e-7, SETTINGS)
    np.testing.assert_array_equal(
        again, CandidateCache(predictor).index_for(there, T0 + 2.0, fov, no_tracks, 1e-7, SETTINGS)
    )
    assert cache.rebuilds == 3


def _records(pipeline: Pipeline, frames, states=None) -> list[str]:
    states = {} if states is None else states
    out = []
    for frame in frames:
        result = pipeline.process(frame, states.get(frame.sensor_id))
        states[frame.sensor_id] = result.state
        out += [u.to_json() for u in result.tracks] + [a.to_json() for a in result.associations]
    return out


def test_pipeline_records_are_the_same_with_and_without_candidates(catalog_dir, tmp_path):
    """A simulated scenario of the default network: the same record bytes with the cache as
    with the whole catalogue every frame, and a pipeline restored half way from the sensors'
    states (with an empty cache) goes on with the same records as one that never stopped."""
    settings = ScenarioSettings(
        duration_s=90.0,
        sensors=tuple(p.replace(cadence_s=max(p.cadence_s, 2.0)) for p in DEFAULT_SENSORS),
    )
    simulate_scenario(catalog_dir, tmp_path, seed=3, settings=settings)
    frames = list(iter_frames_jsonl(tmp_path / "frames.jsonl"))
    sensors = read_sensors(tmp_path / "sensors.json")
    catalogue = Catalogue.from_path(tmp_path / "catalog")

    cached = Pipeline(sensors, catalogue)
    with_cache = _records(cached, frames)
    assert sum(c.rebuilds for c in cached._candidates.values()) >= 4

    whole = Pipeline(sensors, catalogue)
    whole._candidates_of = lambda sensor: None  # every frame predicts the whole catalogue
    assert _records(whole, frames) == with_cache
    assert any('"uct":false' in r for r in with_cache) and any(
        '"uct":true' in r for r in with_cache
    )

    half = len(frames) // 2
    states: dict[str, bytes] = {}
    first = _records(Pipeline(sensors, catalogue), frames[:half], states)
    restored = Pipeline(sensors, catalogue)
    assert first + _records(restored, frames[half:], states) == with_cache
    assert frames[-1].time - frames[0].time > timedelta(seconds=60)

    # Without fields of view, the ground sites' frames search their skies: the same records.
    blind = [f.model_copy(update={"fov": None}) for f in frames]
    sky = Pipeline(sensors, catalogue)
    sky_records = _records(sky, blind)
    assert _records(whole, blind) == sky_records
    assert sum(c.rebuilds for c in sky._candidates.values()) >= 4
    assert any('"uct":false' in r for r in sky_records)

"""The scenario simulator on the real CelesTrak snapshot, with small settings."""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from orbitlink.tracking.catalogue import Catalogue, tle_checksum
from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors
from orbitlink.tracking.predict import predict_sky, sun_altitude_deg
from orbitlink.tracking.simulate import (
    DEFAULT_SENSORS,
    PRESETS,
    ScenarioSettings,
    SensorPlan,
    blend_unresolved,
    find_trains,
    launch_designators,
    perturbed_line2,
    simulate,
    simulate_scenario,
    write_scenario,
)
from orbitlink.tracking.sky import angular_separation_deg
from orbitlink.tracking.times import unix_from_datetime

# One minute, every sensor at most every 2 s: a few hundred detections in a few seconds.
SMALL = ScenarioSettings(
    duration_s=60.0,
    search_step_s=20.0,
    sensors=tuple(p.replace(cadence_s=max(p.cadence_s, 2.0)) for p in DEFAULT_SENSORS),
)
FILES = ("frames.jsonl", "sensors.json", "truth.json", "scenario.json", "catalog/catalog.tle")


@pytest.fixture(scope="module")
def catalogue(catalog_dir: Path) -> Catalogue:
    return Catalogue.from_path(catalog_dir)


@pytest.fixture(scope="module")
def scenario(catalog_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scenario")
    simulate_scenario(catalog_dir, out, seed=0, settings=SMALL)
    return out


@pytest.fixture(scope="module")
def small_catalog_dir(catalog_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four real files of the snapshot (GEO, OneWeb, science incl. NEOSSAT, stations): the
    same kind of sky at a quarter of the loading time, for the repeated runs."""
    folder = tmp_path_factory.mktemp("catalog")
    for name in ("geo.tle", "oneweb.tle", "science.tle", "stations.tle"):
        shutil.copy(catalog_dir / name, folder / name)
    return folder


def _load(scenario: Path) -> tuple[list, dict, dict, dict]:
    frames = list(iter_frames_jsonl(scenario / "frames.jsonl"))
    sensors = read_sensors(scenario / "sensors.json")
    truth = json.loads((scenario / "truth.json").read_text())
    meta = json.loads((scenario / "scenario.json").read_text())
    return frames, sensors, truth, meta


def test_files_follow_the_contract(scenario):
    frames, sensors, truth, meta = _load(scenario)
    assert all((scenario / name).is_file() for name in FILES)
    ground = [s for s in sensors.values() if not s.is_space_based]
    space = [s for s in sensors.values() if s.is_space_based]
    assert len(ground) >= 2 and len(space) >= 1
    assert len({(s.lat_deg, s.lon_deg) for s in ground}) == len(ground)
    for sensor in sensors.values():
        assert 1.0 <= sensor.fov_radius_deg <= 3.0 and 2.0 <= sensor.sigma_arcsec <= 10.0
    times = [unix_from_datetime(f.time) for f in frames]
    assert times == sorted(times), "frames are time-ordered across sensors"
    assert {f.sensor_id for f in frames} == set(sensors)
    det_ids = [d.det_id for f in frames for d in f.detections]
    assert len(det_ids) == len(set(det_ids)) == len(truth) > 200
    assert set(det_ids) == set(truth)
    for frame in frames:
        assert frame.fov is not None
        assert [d.det_id for d in frame.detections] == [
            f"{frame.frame_id}:{i}" for i in range(len(frame.detections))
        ]
        assert all(d.sigma_arcsec is not None and d.mag is not None for d in frame.detections)
    assert all(v is None or (isinstance(v, int) and v > 0) for v in truth.values())
    assert meta["seed"] == 0 and meta["settings"]["duration_s"] == SMALL.duration_s
    assert [f["frame_id"] for f in meta["frames"]] == [f.frame_id for f in frames]
    assert set(meta["pointings"]) == set(sensors)


def test_detections_and_true_positions_lie_in_their_field(scenario):
    frames, _, _, meta = _load(scenario)
    for frame, info in zip(frames, meta["frames"]):
        fov = frame.fov
        if frame.detections:
            ra = np.array([d.ra_deg for d in frame.detections])
            dec = np.array([d.dec_deg for d in frame.detections])
            sigma = np.array([d.sigma_arcsec for d in frame.detections])
            separation = angular_separation_deg(ra, dec, fov.ra_deg, fov.dec_deg)
            assert np.all(separation <= fov.radius_deg + 5.0 * sigma / 3600.0), frame.frame_id
        for obj in info["objects"]:
            assert (
                angular_separation_deg(obj["ra_deg"], obj["dec_deg"], fov.ra_deg, fov.dec_deg)
                <= fov.radius_deg + 1e-9
            )


def test_truth_ids_are_catalogue_objects_in_view_but_not_where_the_catalogue_says(
    scenario, catalogue
):
    frames, sensors, truth, meta = _load(scenario)
    offsets_geo, offsets_all = [], []
    for frame, info in zip(frames, meta["frames"]):
        ids = sorted({truth[d.det_id] for d in frame.detections} - {None})
        if not ids:
            continue
        index = catalogue.index_of(ids)
        assert np.all(index >= 0), f"{frame.frame_id}: ids not in the input catalogue"
        p = predict_sky(
            catalogue, sensors[frame.sensor_id], unix_from_datetime(frame.time), index=index
        )
        assert np.all(p.valid & p.above_horizon & p.sunlit), frame.frame_id
        where = {int(n): i for i, n in enumerate(p.norad_ids)}
        rate = np.hypot(p.ra_rate_deg_s, p.dec_rate_deg_s)
        for det in frame.detections:
            norad = truth[det.det_id]
            if norad is None:
                continue
            i = where[norad]
            # The truth is the catalogue shifted along-track by its set's fitted error: the
            # detection is near the catalogue's prediction, but only that near.
            separation = angular_separation_deg(det.ra_deg, det.dec_deg, p.ra_deg[i], p.dec_deg[i])
            assert separation <= 0.1 + 10.0 * rate[i], (frame.frame_id, norad)
        for obj in info["objects"]:
            i = where.get(obj["norad_id"])
            if i is None:
                continue
            offset = (
                angular_separation_deg(obj["ra_deg"], obj["dec_deg"], p.ra_deg[i], p.dec_deg[i])
                * 3600.0
            )
            offsets_all.append(offset)
            if p.range_km[i] > 30_000.0:
                offsets_geo.append(offset)
    assert len(offsets_geo) > 20 and len(offsets_all) > len(offsets_geo)
    # The truth's errors are drawn from the fitted element-set error model at the sets' ages
    # (about a day here): GEO sets are then 0.8 km off in-track (4 arcsec from the ground),
    # never degrees. A TLE holds the mean anomaly to 1e-4 deg (0.36 arcsec), so the few
    # smallest draws round to no error at all.
    assert np.mean(np.asarray(offsets_all) < 0.2) < 0.2
    assert 0.5 < np.median(offsets_geo) < 30.0 and np.max(offsets_geo) < 360.0


def test_objects_are_missed_sometimes_and_false_alarms_are_poisson(scenario):
    frames, _, truth, meta = _load(scenario)
    detectable = sum(len(f["objects"]) for f in meta["frames"])
    detected = sum(v is not None for v in truth.values())
    # Pd = 0.9 for objects well above the limit, lower near it.
    assert 0.6 * detectable < detected < 0.97 * detectable
    false_alarms = sum(v is None for v in truth.values())
    assert 0.5 * len(frames) < false_alarms < 1.6 * len(frames)  # 1 per frame on average
    # Shuffled within frames: false alarms are not always listed last.
    early = [
        i
        for f in frames
        for i, d in enumerate(f.detections)
        if truth[d.det_id] is None
        and i < len(f.detections) - 1
        and any(truth[e.det_id] is not None for e in f.detections[i + 1 :])
    ]
    assert early


def test_withheld_objects_are_seen_and_absent_from_the_output_catalogue(scenario, catalogue):
    frames, sensors, truth, meta = _load(scenario)
    withheld = meta["withheld_norad_ids"]
    output = Catalogue.from_path(scenario / "catalog" / "catalog.tle")
    assert len(output) == len(catalogue) - len(withheld)
    assert not np.any(np.isin(withheld, output.norad_ids))
    assert np.all(catalogue.index_of(withheld) >= 0)
    sensor_of = {f.frame_id: f.sensor_id for f in frames}
    counts = Counter((sensor_of[d.rsplit(":", 1)[0]], n) for d, n in truth.items() if n)
    for norad in withheld:
        assert (
            max(c for (s, n), c in counts.items() if n == norad) >= SMALL.min_detections_to_withhold
        )
    for sensor_id in sensors:
        seen = {
            n
            for (s, n), c in counts.items()
            if s == sensor_id and c >= SMALL.min_detections_to_withhold
        }
        if seen:
            assert seen & set(withheld), f"nothing withheld from {sensor_id}"


def test_ground_frames_are_at_night_and_the_space_sensor_is_a_catalogue_satellite(
    scenario, catalogue
):
    frames, sensors, _, _ = _load(scenario)
    for sensor_id, sensor in sensors.items():
        times = [unix_from_datetime(f.time) for f in frames if f.sensor_id == sensor_id]
        if sensor.is_space_based:
            host = catalogue.index_of([int(sensor.tle[0][2:7])])[0]
            assert tuple(sensor.tle) == catalogue.lines[host]
        else:
            assert np.max(sun_altitude_deg(sensor, times)) < -12.0


def test_same_seed_same_bytes_other_seed_different(small_catalog_dir, tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        simulate_scenario(small_catalog_dir, tmp_path / name, seed=seed, settings=SMALL)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    for name in ("frames.jsonl", "truth.json", "scenario.json"):
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()


def test_the_scenario_in_memory_is_what_the_files_hold(small_catalog_dir, tmp_path):
    scenario = simulate(Catalogue.from_path(small_catalog_dir), seed=1, settings=SMALL)
    assert not any(tmp_path.iterdir()), "simulate computes, it does not write"
    summary = write_scenario(scenario, tmp_path / "a")
    simulate_scenario(small_catalog_dir, tmp_path / "b", seed=1, settings=SMALL)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    frames, sensors, truth, meta = _load(tmp_path / "a")
    assert frames == scenario.frames and list(sensors.values()) == scenario.sensors
    assert truth == scenario.truth
    assert meta["withheld_norad_ids"] == scenario.withheld_norad_ids != []
    assert [f["objects"] for f in meta["frames"]] == [
        scenario.objects_in_view[f.frame_id] for f in scenario.frames
    ]
    assert len(scenario.catalogue) == summary.catalogue_size
    assert summary.n_detections == len(truth) and summary.n_frames == len(frames)
    assert sum(summary.detections_by_sensor.values()) == len(truth)
    assert list(summary.frames_by_sensor) == [p.sensor_id for p in SMALL.sensors]


def test_a_ground_site_in_daylight_is_refused(small_catalog_dir, tmp_path):
    daylight = SMALL.replace(start_time="2026-05-31T16:00:00Z")
    with pytest.raises(ValueError, match="ctio-geo.*choose start_time"):
        simulate_scenario(small_catalog_dir, tmp_path, settings=daylight)


def test_a_stare_with_nothing_to_see_is_refused(catalog_dir, tmp_path):
    (tmp_path / "geo").mkdir()
    shutil.copy(catalog_dir / "geo.tle", tmp_path / "geo" / "geo.tle")
    only_leo_stare = SMALL.replace(sensors=(DEFAULT_SENSORS[2],))
    with pytest.raises(ValueError, match="kpno-leo.*no catalogue object for a leo_stare"):
        simulate_scenario(tmp_path / "geo", tmp_path / "out", settings=only_leo_stare)


def test_perturbed_line2_shifts_the_angles_and_stays_a_valid_tle(catalogue):
    i = int(catalogue.index_of([39089])[0])  # NEOSSAT
    line1, line2 = catalogue.lines[i]
    shifted = perturbed_line2(line2, 0.0012, -0.0034, 359.9)
    assert len(shifted) == 69 and int(shifted[68]) == tle_checksum(shifted)
    before, after = (
        catalogue.satrecs[i],
        Catalogue.from_tle_text(f"{line1}\n{shifted}\n").satrecs[0],
    )
    assert math.degrees(after.inclo - before.inclo) == pytest.approx(0.0012, abs=1e-9)
    assert math.degrees(after.nodeo - before.nodeo) == pytest.approx(-0.0034, abs=1e-9)
    assert math.degrees(after.mo - before.mo) % 360.0 == pytest.approx(359.9, abs=1e-9)
    assert shifted[:8] == line2[:8] and shifted[51:68] == line2[51:68]


def test_sources_closer_than_the_resolution_blend_into_one():
    arcsec = 1.0 / 3600.0
    # 1 and 2 are 5" apart (2 is 0.4 mag fainter), 3 is a minute away; 4-5-6 form a chain of
    # 8" steps (4 and 6 are 16" apart) and blend as one.
    ids = np.array([1, 2, 3, 4, 5, 6])
    dec = np.array([0.0, 5 * arcsec, 60 * arcsec, 0.5, 0.5 + 8 * arcsec, 0.5 + 16 * arcsec])
    ra = np.full(6, 10.0)
    mag = np.array([10.0, 10.4, 12.0, 13.0, 11.0, 13.0])
    out_ids, out_ra, out_dec, out_mag = blend_unresolved(ids, ra, dec, mag, 10.0)
    assert out_ids.tolist() == [1, 3, 5]
    flux = 10.0 ** (-0.4 * mag)
    assert out_mag[0] == pytest.approx(-2.5 * np.log10(flux[0] + flux[1]))
    assert out_dec[0] == pytest.approx((flux[1] * 5 * arcsec) / (flux[0] + flux[1]), abs=1e-9)
    assert out_dec[1] == pytest.approx(dec[2]) and out_mag[1] == pytest.approx(12.0)
    assert out_dec[2] == pytest.approx(0.5 + 8 * arcsec, abs=1e-9)  # symmetric chain
    assert np.allclose(out_ra, 10.0)
    # Nothing within the resolution: the sources pass unchanged.
    assert blend_unresolved(ids, ra, dec, mag, 4.0)[0].tolist() == [1, 2, 3, 4, 5, 6]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="ground site or host_norad_id"):
        SensorPlan(sensor_id="x", task="geo_survey")
    with pytest.raises(ValueError, match="leo_stare is a ground task"):
        SensorPlan(sensor_id="x", task="leo_stare", host_norad_id=39089)
    with pytest.raises(ValueError, match="repeated"):
        ScenarioSettings(sensors=(DEFAULT_SENSORS[0], DEFAULT_SENSORS[0]))
    with pytest.raises(ValueError, match="ISO-8601"):
        ScenarioSettings(start_time="tonight")


def test_settings_follow_the_settings_convention(scenario):
    # scenario.json records the settings whole: they read back as the settings that made it.
    meta = json.loads((scenario / "scenario.json").read_text())
    assert ScenarioSettings.model_validate_json(json.dumps(meta["settings"])) == SMALL
    ctio = DEFAULT_SENSORS[0]
    assert ctio.replace(cadence_s=7.0).cadence_s == 7.0 and ctio.cadence_s == 5.0
    for changes, name in [
        ({"cadence_s": 0.0}, "cadence_s"),
        ({"exposure_s": -1.0}, "exposure_s"),
        ({"lat_deg": 91.0}, "lat_deg"),
        ({"cadense_s": 1.0}, "cadense_s"),
        ({"task": "survey"}, "task"),
    ]:
        with pytest.raises(ValueError, match=name):
            ctio.replace(**changes)
    for changes, name in [
        ({"duration_s": 0.0}, "duration_s"),
        ({"sensors": ()}, "sensors"),
        ({"withheld_fraction": 1.0}, "withheld_fraction"),
        ({"detection_probability": 0.0}, "detection_probability"),
        ({"search_step_s": 0.0}, "search_step_s"),
    ]:
        with pytest.raises(ValueError, match=name):
            SMALL.replace(**changes)


# ------------------------------------------------------------- real staleness, hard preset

# The geometry these tests check (the APSTAR pair, the 2026-111 train) is that of the night
# of 2026-06-02; the "hard" preset's own night (2026-05-31) is checked by bench/identification.
HARD = PRESETS["hard-week"]


@pytest.fixture(scope="module")
def older(catalog_dir: Path) -> Catalogue:
    """The 2026-05-26 snapshot: four days older than ``catalog_dir``'s, the engine's catalogue
    of the hard preset."""
    return Catalogue.from_path(catalog_dir.parent / "celestrak-2026-05-26")


@pytest.fixture(scope="module")
def hard(older, catalogue, tmp_path_factory):
    """The hard preset, seed 0, in memory and on disk."""
    scenario = simulate(older, seed=0, settings=HARD, truth_catalogue=catalogue)
    out = tmp_path_factory.mktemp("hard")
    write_scenario(scenario, out)
    return scenario, out


def _frames_of(scenario, sensor_id: str) -> list:
    return [f for f in scenario.frames if f.sensor_id == sensor_id]


def _detections_of(scenario, sensor_id: str) -> Counter:
    return Counter(
        scenario.truth[d.det_id]
        for f in _frames_of(scenario, sensor_id)
        for d in f.detections
        if scenario.truth[d.det_id] is not None
    )


def test_snapshot_truth_is_the_newer_catalogue_unperturbed(hard, older, catalogue):
    scenario, _ = hard
    sensors = {s.sensor_id: s for s in scenario.sensors}
    compared = 0
    for frame in scenario.frames[::3]:
        objects = scenario.objects_in_view[frame.frame_id]
        if not objects:
            continue
        ids = [o["norad_id"] for o in objects]
        p = predict_sky(
            catalogue,
            sensors[frame.sensor_id],
            unix_from_datetime(frame.time),
            index=catalogue.index_of(ids),
        )
        # The true positions are the newer element sets' own predictions, light time included.
        np.testing.assert_allclose([o["ra_deg"] for o in objects], p.ra_deg, atol=2e-7)
        np.testing.assert_allclose([o["dec_deg"] for o in objects], p.dec_deg, atol=2e-7)
        compared += len(ids)
    assert compared > 100


def test_snapshot_catalogue_is_the_older_one_less_the_withheld(hard, older, catalogue):
    scenario, out = hard
    written = Catalogue.from_path(out / "catalog" / "catalog.tle")
    withheld = set(scenario.withheld_norad_ids)
    kept = [n for n in older.norad_ids.tolist() if n not in withheld]
    assert written.norad_ids.tolist() == kept
    for i in range(0, len(written), 97):
        assert written.lines[i] == older.lines[int(older.index_of([written.norad_ids[i]])[0])]
    # Objects detected that only the newer snapshot holds (a launch after the older one) are
    # uncatalogued, and counted among the withheld.
    detected = {n for n in scenario.truth.values() if n is not None}
    only_newer = {n for n in detected if older.index_of([n])[0] < 0}
    assert only_newer and set(scenario.uncatalogued_norad_ids) == only_newer <= withheld
    assert np.all(catalogue.index_of(sorted(detected)) >= 0)
    meta = json.loads((out / "scenario.json").read_text())
    assert meta["uncatalogued_norad_ids"] == scenario.uncatalogued_norad_ids
    assert meta["settings"]["staleness"] == "snapshots"


def test_snapshot_staleness_is_the_real_week_old_error(hard, older):
    # The older sets predicted at the frame times miss the truth by what a week does to them:
    # tens to hundreds of arc-seconds for GEO objects, never nothing.
    scenario, _ = hard
    sensors = {s.sensor_id: s for s in scenario.sensors}
    offsets = []
    for sensor_id in ("kpno-slot", "sapphire-slot"):
        for frame in _frames_of(scenario, sensor_id)[::10]:
            objects = [
                o
                for o in scenario.objects_in_view[frame.frame_id]
                if older.index_of([o["norad_id"]])[0] >= 0
            ]
            p = predict_sky(
                older,
                sensors[sensor_id],
                unix_from_datetime(frame.time),
                index=older.index_of([o["norad_id"] for o in objects]),
            )
            offsets += list(
                angular_separation_deg(
                    [o["ra_deg"] for o in objects],
                    [o["dec_deg"] for o in objects],
                    p.ra_deg,
                    p.dec_deg,
                )
                * 3600.0
            )
    assert len(offsets) > 10
    assert np.min(offsets) > 1.0 and 20.0 < np.median(offsets) < 1000.0


def test_snapshot_mode_needs_its_truth_and_only_it(older, catalogue):
    with pytest.raises(ValueError, match="truth_catalogue"):
        simulate(older, settings=HARD)
    with pytest.raises(ValueError, match="takes no truth_catalogue"):
        simulate(older, settings=SMALL, truth_catalogue=catalogue)


def test_hard_preset_stares_at_a_co_located_geo_slot(hard):
    scenario, _ = hard
    slot = scenario.pointings["kpno-slot"]["targets"]
    assert len(slot) >= 3
    detections = _detections_of(scenario, "kpno-slot")
    frames = _frames_of(scenario, "kpno-slot")
    for frame in frames:
        members = [o for o in scenario.objects_in_view[frame.frame_id] if o["norad_id"] in slot]
        assert len(members) == len(slot), frame.frame_id  # the slot stays in the field
        ra, dec = [o["ra_deg"] for o in members], [o["dec_deg"] for o in members]
        # Each within 0.1 deg of the one the cluster is built around: 0.2 deg across at most.
        assert (
            angular_separation_deg(np.array(ra)[:, None], np.array(dec)[:, None], ra, dec).max()
            < 0.2
        )
    assert all(detections[n] >= 0.7 * len(frames) for n in slot)


def test_hard_preset_tracks_a_geo_group_from_a_leo_satellite(hard, catalogue):
    scenario, _ = hard
    sensor = next(s for s in scenario.sensors if s.sensor_id == "sapphire-slot")
    host = catalogue.satrecs[int(catalogue.index_of([int(sensor.tle[0][2:7])])[0])]
    assert host.no_kozai * 1440.0 / (2.0 * math.pi) > 11.0  # a low orbit
    assert scenario.pointings["sapphire-slot"]["kind"] == "tracking"
    group = scenario.pointings["sapphire-slot"]["targets"]
    separations = []
    for frame in _frames_of(scenario, "sapphire-slot"):
        members = {o["norad_id"]: o for o in scenario.objects_in_view[frame.frame_id]}
        assert set(group) <= set(members), frame.frame_id  # tracked: in view all along
        ra = np.array([members[n]["ra_deg"] for n in group])
        dec = np.array([members[n]["dec_deg"] for n in group])
        separations.append(angular_separation_deg(ra[:, None], dec[:, None], ra, dec).max())
    assert 0.02 < np.median(separations) < 0.14  # a pair or group ~0.06 deg apart


def test_hard_preset_sees_a_fresh_starlink_train(hard, catalogue):
    scenario, _ = hard
    pointing = scenario.pointings["train-cam"]
    members = pointing["targets"]
    launches = launch_designators(catalogue)
    for n in members:
        i = int(catalogue.index_of([n])[0])
        assert launches[i] == pointing["launch"] and catalogue.names[i].startswith("STARLINK")
    # The members pass one after another, tens of seconds apart.
    first_seen = {}
    for frame in _frames_of(scenario, "train-cam"):
        for det in frame.detections:
            if scenario.truth[det.det_id] in members:
                first_seen.setdefault(scenario.truth[det.det_id], unix_from_datetime(frame.time))
    assert len(first_seen) >= 4
    gaps = np.diff(sorted(first_seen.values()))
    assert np.all((gaps > 20.0) & (gaps < 120.0)), gaps


def test_hard_preset_has_passes_of_three_to_six_frames(hard):
    scenario, _ = hard
    in_view = Counter(
        o["norad_id"]
        for f in _frames_of(scenario, "short-pass")
        for o in scenario.objects_in_view[f.frame_id]
    )
    detected = _detections_of(scenario, "short-pass")
    seen = [n for n, c in detected.items() if c >= 3]
    assert len(seen) >= 6
    assert all(3 <= in_view[n] <= 6 for n in seen), {n: in_view[n] for n in seen}
    assert max(in_view.values()) <= 6


def test_hard_preset_withholds_a_fifth_beside_catalogued_neighbours(hard):
    scenario, _ = hard
    withheld = set(scenario.withheld_norad_ids)
    chosen = withheld - set(scenario.uncatalogued_norad_ids)
    detected = {n for n in scenario.truth.values() if n is not None}
    assert 0.15 <= len(withheld) / len(detected) <= 0.35
    # The withheld catalogued objects sit within 0.2 deg of a catalogued one in some frame.
    beside = set()
    for objects in scenario.objects_in_view.values():
        for a in objects:
            for b in objects:
                if (
                    a["norad_id"] in chosen
                    and b["norad_id"] not in withheld
                    and angular_separation_deg(a["ra_deg"], a["dec_deg"], b["ra_deg"], b["dec_deg"])
                    <= HARD.withhold_near_deg
                ):
                    beside.add(a["norad_id"])
    assert len(beside) >= 2
    slot = scenario.pointings["kpno-slot"]["targets"]
    assert 1 <= len(withheld.intersection(slot)) < len(slot)


def test_hard_preset_is_reproducible(older, catalogue, hard, tmp_path):
    _, out = hard
    write_scenario(simulate(older, seed=0, settings=HARD, truth_catalogue=catalogue), tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes()


def test_trains_are_runs_of_one_launch_in_one_plane(catalogue, older):
    t = unix_from_datetime(HARD.start_time)
    trains = find_trains(catalogue, t, min_members=5, max_gap_s=120.0)
    launches = launch_designators(catalogue)
    size = {launches[int(train[0])]: len(train) for train in trains}
    assert len(size) == len(trains)  # one run per launch
    # The two Starlink launches deployed days before are the long trains; older launches have
    # spread around their planes and keep runs of a few satellites at most.
    longest = sorted(size, key=size.get, reverse=True)
    assert longest[:2] == ["26111", "26110"] and size["26111"] >= 25
    assert all(size[launch] < 10 for launch in longest[2:])
    for train in trains:
        assert len({launches[int(i)] for i in train}) == 1
    # A tighter gap keeps the fresh train and drops most of the rest.
    tight = find_trains(catalogue, t, min_members=5, max_gap_s=80.0)
    assert {launches[int(train[0])] for train in tight} >= {"26111"}
    assert len(tight) < len(trains)
    # The older snapshot predates both launches.
    assert not {"26110", "26111"} & set(launch_designators(older))


def test_presets_are_named_settings():
    assert PRESETS["default"] == ScenarioSettings()
    assert HARD.staleness == "snapshots" and HARD.withheld_fraction == 0.2
    assert {p.task for p in HARD.sensors} == {"geo_cluster", "leo_train", "leo_stare"}
    with pytest.raises(ValueError, match="leo_train is a ground task"):
        SensorPlan(sensor_id="x", task="leo_train", host_norad_id=39089)


def test_a_cluster_or_train_that_is_not_there_is_refused(catalog_dir, small_catalog_dir, tmp_path):
    slot, _, train, _ = HARD.sensors
    crowded = HARD.replace(
        staleness="perturbed", duration_s=60.0, sensors=(slot.replace(min_members=40),)
    )
    with pytest.raises(ValueError, match="kpno-slot.*no co-located GEO slot of 40 objects"):
        simulate_scenario(small_catalog_dir, tmp_path / "a", settings=crowded)
    (tmp_path / "geo").mkdir()
    shutil.copy(catalog_dir / "geo.tle", tmp_path / "geo" / "geo.tle")
    no_train = crowded.replace(sensors=(train,))
    with pytest.raises(ValueError, match="train-cam.*no train of 5 objects of one launch"):
        simulate_scenario(tmp_path / "geo", tmp_path / "b", settings=no_train)

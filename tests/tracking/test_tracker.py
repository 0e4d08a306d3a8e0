"""SensorTracker on simulated sky scenes and on real satellites propagated from real TLEs.

Targets move on great circles built with :mod:`tracking.sky` (across RA = 0, over a pole, at
LEO and GEO rates), detections get Gaussian noise in the tangent plane, detection probability
below one and uniform clutter in the field of view. Scores are computed from the det_ids the
tracker reports: each detection's id says which target (or clutter) made it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from orbitlink.tracking.models import Detection, FieldOfView, Frame, TrackUpdate
from orbitlink.tracking.sky import (
    angular_separation_deg,
    radec_from_gnomonic,
    radec_rates_from_vectors,
    tangent_basis,
)
from orbitlink.tracking.tracker import SensorTracker, TrackerSettings

T0 = datetime(2026, 5, 30, 3, 0, 0, tzinfo=UTC)
SENSOR = "SITE-1"


@dataclass(frozen=True)
class GreatCircleTarget:
    """A target moving at constant angular speed along a great circle; it is at
    ``(ra_mid, dec_mid)`` at time ``t_mid_s`` heading at position angle ``pa_deg``."""

    ra_mid_deg: float
    dec_mid_deg: float
    pa_deg: float
    speed_deg_s: float
    t_mid_s: float

    def at(self, t_s: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(ra, dec, ra_rate, dec_rate)`` at times ``t_s`` (deg, deg/s)."""
        east, north, centre = tangent_basis(self.ra_mid_deg, self.dec_mid_deg)
        pa = np.radians(self.pa_deg)
        heading = np.sin(pa) * east + np.cos(pa) * north
        angle = np.radians(self.speed_deg_s * (np.asarray(t_s, float) - self.t_mid_s))[:, None]
        position = np.cos(angle) * centre + np.sin(angle) * heading
        velocity = np.radians(self.speed_deg_s) * (
            -np.sin(angle) * centre + np.cos(angle) * heading
        )
        ra, dec, ra_rate, dec_rate, _ = radec_rates_from_vectors(position, velocity)
        return ra, dec, ra_rate, dec_rate


def make_frames(
    truth_radec: list[tuple[np.ndarray, np.ndarray]],
    times_s: np.ndarray,
    fov: FieldOfView,
    rng: np.random.Generator,
    sigma_arcsec: float,
    pd: float,
    clutter_per_frame: float,
) -> list[Frame]:
    """Frames with noisy detections of the given tracks (``truth_radec[i]`` = ra, dec per
    time) and Poisson clutter uniform over the field of view. Detection ids are
    ``f{frame}-t{target}`` and ``f{frame}-c{k}``."""
    sigma_deg = sigma_arcsec / 3600.0
    frames = []
    for k, t in enumerate(times_s):
        detections = []
        for i, (ra, dec) in enumerate(truth_radec):
            if rng.random() >= pd:
                continue
            ra_n, dec_n = radec_from_gnomonic(*rng.normal(0.0, sigma_deg, 2), ra[k], dec[k])
            if angular_separation_deg(ra_n, dec_n, fov.ra_deg, fov.dec_deg) > fov.radius_deg:
                continue
            detections.append(
                Detection(
                    det_id=f"f{k}-t{i}",
                    ra_deg=float(ra_n),
                    dec_deg=float(dec_n),
                    sigma_arcsec=sigma_arcsec,
                )
            )
        for j in range(rng.poisson(clutter_per_frame)):
            r = fov.radius_deg * np.sqrt(rng.random())
            phi = rng.uniform(0, 2 * np.pi)
            ra_c, dec_c = radec_from_gnomonic(
                r * np.cos(phi), r * np.sin(phi), fov.ra_deg, fov.dec_deg
            )
            detections.append(
                Detection(det_id=f"f{k}-c{j}", ra_deg=float(ra_c), dec_deg=float(dec_c))
            )
        order = rng.permutation(len(detections))
        frames.append(
            Frame(
                frame_id=f"f{k}",
                sensor_id=SENSOR,
                time=T0 + timedelta(seconds=float(t)),
                fov=fov,
                detections=[detections[o] for o in order],
            )
        )
    return frames


def run(
    frames: list[Frame], settings: TrackerSettings = TrackerSettings(), sigma_arcsec: float = 5.0
) -> list[TrackUpdate]:
    tracker = SensorTracker(SENSOR, settings)
    records: list[TrackUpdate] = []
    for frame in frames:
        step = tracker.process(frame, sigma_arcsec)
        assert step.disposition == "processed"
        records.extend(step.updates)
    return records


def source_of(det_id: str) -> int:
    """Target index of a detection id, -1 for clutter."""
    label = det_id.split("-")[1]
    return int(label[1:]) if label[0] == "t" else -1


def track_detections(records: list[TrackUpdate]) -> dict[str, list[str]]:
    by_track: dict[str, list[str]] = defaultdict(list)
    for record in records:
        if record.det_id is not None and record.status == "confirmed":
            by_track[record.track_id].append(record.det_id)
    return by_track


SCENES = {
    # A wide-field camera straddling RA = 0 with LEO-rate targets crossing it.
    "ra-wrap-leo": dict(
        fov=FieldOfView(ra_deg=0.0, dec_deg=20.0, radius_deg=5.0),
        dt_s=1.0,
        n_frames=30,
        sigma=5.0,
        targets=[
            GreatCircleTarget(359.0, 21.0, 80.0, 0.25, 15.0),
            GreatCircleTarget(1.0, 19.5, 290.0, 0.15, 15.0),
            GreatCircleTarget(0.2, 18.5, 30.0, 0.2, 15.0),
            GreatCircleTarget(359.5, 23.0, 120.0, 0.1, 15.0),
        ],
    ),
    # A camera pointed 1 degree from the north celestial pole; one target crosses the pole.
    "north-pole": dict(
        fov=FieldOfView(ra_deg=45.0, dec_deg=89.0, radius_deg=5.0),
        dt_s=2.0,
        n_frames=25,
        sigma=10.0,
        targets=[
            GreatCircleTarget(0.0, 90.0, 0.0, 0.12, 25.0),
            GreatCircleTarget(45.0, 88.0, 135.0, 0.08, 25.0),
            GreatCircleTarget(200.0, 88.5, 250.0, 0.1, 25.0),
        ],
    ),
    # GEO belt objects drifting at ~15 arcsec/s past a telescope, 30 s between frames.
    "south-geo": dict(
        fov=FieldOfView(ra_deg=180.0, dec_deg=-5.0, radius_deg=2.5),
        dt_s=30.0,
        n_frames=20,
        sigma=2.0,
        targets=[
            GreatCircleTarget(180.0, -5.2, 90.0, 15.04 / 3600, 300.0),
            GreatCircleTarget(179.5, -4.6, 92.0, 14.9 / 3600, 300.0),
            GreatCircleTarget(180.6, -5.9, 88.0, 15.2 / 3600, 300.0),
        ],
    ),
}


@pytest.mark.parametrize("name", SCENES)
def test_targets_get_pure_tracks_with_right_rates(name: str) -> None:
    scene = SCENES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    times = np.arange(scene["n_frames"]) * scene["dt_s"]
    truth = [target.at(times) for target in scene["targets"]]
    frames = make_frames(
        [(t[0], t[1]) for t in truth],
        times,
        scene["fov"],
        rng,
        scene["sigma"],
        pd=0.9,
        clutter_per_frame=3.0,
    )
    records = run(frames, sigma_arcsec=scene["sigma"])
    assert records, "no track was published"

    detections_of = track_detections(records)
    owner = {}
    for track_id, det_ids in detections_of.items():
        sources = Counter(source_of(d) for d in det_ids)
        source, count = sources.most_common(1)[0]
        # Every confirmed track follows one real target and uses (almost) only its detections.
        assert source >= 0, f"{track_id} follows clutter: {det_ids}"
        assert count / len(det_ids) >= 0.9, f"{track_id} is impure: {sources}"
        owner[track_id] = source

    n_detected = Counter(source_of(d.det_id) for f in frames for d in f.detections)
    last_record = {r.track_id: r for r in records}
    for i, (ra, dec, ra_rate, dec_rate) in enumerate(truth):
        tracks = [t for t, o in owner.items() if o == i]
        assert len(tracks) == 1, f"target {i} has tracks {tracks}"
        used = sum(source_of(d) == i for d in detections_of[tracks[0]])
        # Confirmation takes 5 of 6 frames and Pd is 0.9, so a few early detections go to
        # tentative tracks; the bulk of the target's detections are tracked.
        assert used >= 0.6 * n_detected[i], f"target {i}: {used} of {n_detected[i]} used"

        final = last_record[tracks[0]]
        k = int(round((final.time - T0).total_seconds() / scene["dt_s"]))
        error_arcsec = 3600 * angular_separation_deg(final.ra_deg, final.dec_deg, ra[k], dec[k])
        assert error_arcsec < 3 * scene["sigma"]
        rate_error = np.hypot(final.ra_rate_deg_s - ra_rate[k], final.dec_rate_deg_s - dec_rate[k])
        speed = scene["targets"][i].speed_deg_s
        assert rate_error < 0.03 * speed, f"target {i}: rate off by {rate_error} deg/s"
        # The reported rate uncertainty is honest (within 4 sigma of the truth).
        sigma_rate = np.sqrt(max(final.covariance[2][2], final.covariance[3][3]))
        assert rate_error < 4 * sigma_rate * np.sqrt(2)


def single_target_frames(present: list[bool], dt_s: float = 10.0) -> list[Frame]:
    """One GEO-like target, no noise draw needed beyond a fixed seed, no clutter; the target
    is detected in frame k when ``present[k]``."""
    target = GreatCircleTarget(120.0, 10.0, 95.0, 0.004, 0.0)
    times = np.arange(len(present)) * dt_s
    ra, dec, _, _ = target.at(times)
    rng = np.random.default_rng(0)
    frames = []
    for k, t in enumerate(times):
        dets = []
        if present[k]:
            ra_n, dec_n = radec_from_gnomonic(*rng.normal(0, 2 / 3600, 2), ra[k], dec[k])
            dets.append(Detection(det_id=f"f{k}-t0", ra_deg=float(ra_n), dec_deg=float(dec_n)))
        frames.append(
            Frame(
                frame_id=f"f{k}",
                sensor_id=SENSOR,
                time=T0 + timedelta(seconds=float(t)),
                detections=dets,
            )
        )
    return frames


def test_track_coasts_through_a_miss_and_is_deleted_after_k_misses() -> None:
    present = [True] * 12 + [False] + [True] * 7 + [False] * 8
    records = run(single_target_frames(present), sigma_arcsec=2.0)
    assert {r.track_id for r in records} == {f"{SENSOR}-000001"}
    by_frame = {r.frame_id: r for r in records}
    # Confirmed at the 5th detection (frame 4), then one record per frame until deleted.
    assert min(by_frame, key=lambda f: int(f[1:])) == "f4"
    assert by_frame["f11"].status == "confirmed" and by_frame["f11"].det_id == "f11-t0"
    coast = by_frame["f12"]
    assert (coast.status, coast.det_id, coast.n_missed) == ("coasting", None, 1)
    assert by_frame["f13"].status == "confirmed" and by_frame["f13"].n_missed == 0
    # The coasted position is the prediction, not a stale copy of the last update.
    assert coast.ra_deg != by_frame["f11"].ra_deg
    assert [by_frame[f"f{k}"].status for k in range(20, 24)] == [
        "coasting",
        "coasting",
        "coasting",
        "deleted",
    ]
    assert [by_frame[f"f{k}"].n_missed for k in range(20, 24)] == [1, 2, 3, 4]
    assert not any(f"f{k}" in by_frame for k in range(24, 28))
    assert by_frame["f19"].n_updates == 19


def test_crossing_targets_keep_their_identities() -> None:
    # Two targets at the same place at the same time (t = 20 s), 40 degrees apart in heading.
    targets = [
        GreatCircleTarget(60.0, -30.0, 70.0, 0.05, 20.0),
        GreatCircleTarget(60.0, -30.0, 110.0, 0.05, 20.0),
    ]
    times = np.arange(41) * 1.0
    truth = [t.at(times)[:2] for t in targets]
    fov = FieldOfView(ra_deg=60.0, dec_deg=-30.0, radius_deg=3.0)
    frames = make_frames(
        truth, times, fov, np.random.default_rng(5), 3.0, pd=0.95, clutter_per_frame=1.0
    )
    records = run(frames, sigma_arcsec=3.0)
    detections_of = track_detections(records)
    long_tracks = {t: d for t, d in detections_of.items() if len(d) >= 10}
    assert len(long_tracks) == 2
    for track_id, det_ids in long_tracks.items():
        sources = Counter(source_of(d) for d in det_ids)
        ((source, count),) = sources.most_common(1)
        assert count / len(det_ids) >= 0.95, f"{track_id} swapped: {det_ids}"
        frames_used = [int(d.split("-")[0][1:]) for d in det_ids if source_of(d) == source]
        assert min(frames_used) < 10 and max(frames_used) > 35  # before and after crossing
    assert (
        len({Counter(source_of(d) for d in v).most_common(1)[0][0] for v in long_tracks.values()})
        == 2
    )


def geo_scene(seed: int = 9) -> list[Frame]:
    scene = SCENES["south-geo"]
    times = np.arange(scene["n_frames"]) * scene["dt_s"]
    truth = [t.at(times)[:2] for t in scene["targets"]]
    return make_frames(
        truth, times, scene["fov"], np.random.default_rng(seed), 2.0, pd=0.9, clutter_per_frame=3.0
    )


def test_state_round_trip_is_bit_exact_and_continuation_is_identical() -> None:
    frames = geo_scene()
    tracker = SensorTracker(SENSOR)
    for frame in frames[:10]:
        tracker.process(frame, 2.0)
    assert tracker.n_tracks > 0 and tracker.confirmed.any()
    data = tracker.to_bytes()
    restored = SensorTracker.from_bytes(data)
    assert restored.to_bytes() == data
    for name in ("ra_deg", "dec_deg", "rates_deg_s", "covariance", "n_updates", "n_missed"):
        a, b = getattr(tracker, name), getattr(restored, name)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    assert restored.track_ids == tracker.track_ids
    for frame in frames[10:]:
        original = [r.to_json() for r in tracker.process(frame, 2.0).updates]
        again = [r.to_json() for r in restored.process(frame, 2.0).updates]
        assert original == again
    assert tracker.to_bytes() == restored.to_bytes()
    # A duplicate of a frame seen before the snapshot is still recognised after restoring.
    assert SensorTracker.from_bytes(data).process(frames[4], 2.0).disposition == "duplicate"


def test_same_frames_give_byte_identical_records() -> None:
    frames = geo_scene(seed=21)
    first = [r.to_json() for r in run(frames, sigma_arcsec=2.0)]
    second = [r.to_json() for r in run(frames, sigma_arcsec=2.0)]
    assert first and first == second
    assert all(r.startswith('{"time":') for r in first)
    # Every record validates against the shared model.
    for line in first:
        TrackUpdate.model_validate_json(line)


def test_duplicate_and_out_of_order_frames_change_nothing() -> None:
    frames = geo_scene(seed=4)
    tracker = SensorTracker(SENSOR)
    for frame in frames[:8]:
        tracker.process(frame, 2.0)
    before = tracker.to_bytes()

    replayed = tracker.process(frames[5], 2.0)  # same id, older time
    assert (replayed.disposition, replayed.updates) == ("duplicate", [])
    same_time = frames[7].model_copy(update={"frame_id": "f7-again"})
    assert tracker.process(same_time, 2.0).disposition == "duplicate"
    older = frames[6].model_copy(update={"frame_id": "late-6"})
    late = tracker.process(older, 2.0)
    assert (late.disposition, late.updates) == ("out_of_order", [])
    assert tracker.to_bytes() == before

    step = tracker.process(frames[8], 2.0)
    assert step.disposition == "processed" and step.updates


def test_track_leaving_the_field_of_view_is_deleted() -> None:
    target = GreatCircleTarget(10.0, 0.0, 90.0, 0.1, 15.0)
    times = np.arange(30) * 1.0
    fov = FieldOfView(ra_deg=10.0, dec_deg=0.0, radius_deg=1.0)
    frames = make_frames(
        [target.at(times)[:2]],
        times,
        fov,
        np.random.default_rng(2),
        3.0,
        pd=1.0,
        clutter_per_frame=0.0,
    )
    records = run(frames, sigma_arcsec=3.0)
    assert {r.track_id for r in records} == {f"{SENSOR}-000001"}
    assert records[-1].status == "deleted"
    exit_time = (records[-1].time - T0).total_seconds()
    assert 24 <= exit_time <= 26  # 1 degree past the centre at 0.1 deg/s, from t = 15 s
    assert angular_separation_deg(records[-1].ra_deg, records[-1].dec_deg, 10.0, 0.0) > 1.0


def test_tentative_tracks_published_only_when_asked() -> None:
    frames = single_target_frames([True] * 6)
    quiet = run(frames, sigma_arcsec=2.0)
    assert [r.status for r in quiet] == ["confirmed"] * 2
    loud = run(frames, TrackerSettings(publish_tentative=True), sigma_arcsec=2.0)
    assert [(r.frame_id, r.status, r.n_updates) for r in loud] == [
        ("f1", "tentative", 2),
        ("f2", "tentative", 3),
        ("f3", "tentative", 4),
        ("f4", "confirmed", 5),
        ("f5", "confirmed", 6),
    ]
    assert loud[0].det_id == "f1-t0"


def test_bad_input_gets_clear_errors() -> None:
    tracker = SensorTracker(SENSOR)
    other = Frame(frame_id="x", sensor_id="OTHER", time=T0)
    with pytest.raises(ValueError, match="sensor_id 'OTHER'"):
        tracker.process(other, 5.0)
    with pytest.raises(ValueError, match="default_sigma_arcsec"):
        tracker.process(Frame(frame_id="y", sensor_id=SENSOR, time=T0), float("nan"))
    with pytest.raises(ValueError, match="bad magic"):
        SensorTracker.from_bytes(b"not a state")
    good = SensorTracker(SENSOR)
    for frame in single_target_frames([True] * 5):
        good.process(frame, 2.0)
    data = good.to_bytes()
    with pytest.raises(ValueError, match="past the end|trailing|corrupt"):
        SensorTracker.from_bytes(data[:-8])
    with pytest.raises(ValueError, match="trailing"):
        SensorTracker.from_bytes(data + b"\0")
    with pytest.raises(ValueError, match="confirm_m"):
        TrackerSettings(confirm_m=6, confirm_n=5)
    with pytest.raises(ValueError, match="gate probability"):
        TrackerSettings(gate_probability=0.0)


# ----------------------------------------------------------------- real satellites, real TLEs
def _read_tle(path: Path, name_prefix: str) -> tuple[str, str, str]:
    lines = [line.rstrip() for line in path.read_text().splitlines() if line.strip()]
    for i in range(0, len(lines) - 2, 3):
        if lines[i].startswith(name_prefix):
            return lines[i].strip(), lines[i + 1], lines[i + 2]
    raise LookupError(f"{name_prefix} not in {path}")


def _observe_pass(
    catalog_dir: Path, file: str, prefix: str, start: datetime, times_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    from skyfield.api import EarthSatellite, wgs84

    from orbitlink.tracking.times import timescale

    ts = timescale()
    name, line1, line2 = _read_tle(catalog_dir / file, prefix)
    satellite = EarthSatellite(line1, line2, name, ts)
    site = wgs84.latlon(39.0, -105.0, elevation_m=1800.0)
    t = ts.from_datetimes([start + timedelta(seconds=float(s)) for s in times_s])
    ra, dec, _ = (satellite - site).at(t).radec()
    return ra._degrees % 360.0, dec.degrees


def _first_high_pass(catalog_dir: Path) -> datetime:
    from skyfield.api import EarthSatellite, wgs84

    from orbitlink.tracking.times import timescale

    ts = timescale()
    name, line1, line2 = _read_tle(catalog_dir / "stations.tle", "ISS (ZARYA)")
    satellite = EarthSatellite(line1, line2, name, ts)
    site = wgs84.latlon(39.0, -105.0, elevation_m=1800.0)
    t0 = ts.from_datetime(datetime(2026, 5, 30, tzinfo=UTC))
    times, events = satellite.find_events(site, t0, t0 + 2.0, altitude_degrees=60.0)
    culminations = [t for t, e in zip(times, events) if e == 1]
    assert culminations, "no high ISS pass in two days"
    return culminations[0].utc_datetime()


def test_real_leo_pass_is_tracked_with_right_rates(catalog_dir: Path) -> None:
    """The ISS crossing a wide-field camera near culmination (>60 deg elevation, ~1 deg/s
    with real angular acceleration), 1 s frames, sigma 5 arcsec, Pd 0.9, clutter."""
    culmination = _first_high_pass(catalog_dir)
    times = np.arange(-40.0, 41.0, 1.0)
    ra, dec = _observe_pass(catalog_dir, "stations.tle", "ISS (ZARYA)", culmination, times)
    mid = len(times) // 2
    fov = FieldOfView(ra_deg=float(ra[mid]), dec_deg=float(dec[mid]), radius_deg=20.0)
    frames = make_frames(
        [(ra, dec)],
        times - times[0],
        fov,
        np.random.default_rng(1),
        5.0,
        pd=0.9,
        clutter_per_frame=3.0,
    )
    records = run(frames, sigma_arcsec=5.0)
    detections_of = track_detections(records)
    assert len(detections_of) == 1, detections_of.keys()
    (det_ids,) = detections_of.values()
    assert all(source_of(d) == 0 for d in det_ids)
    n_in_fov = sum(source_of(d.det_id) == 0 for f in frames for d in f.detections)
    assert len(det_ids) >= 0.6 * n_in_fov
    # Rates against finite differences of the real propagation.
    for record in records:
        if record.status != "confirmed":
            continue
        k = int(round((record.time - T0).total_seconds()))
        h_ra, h_dec = _observe_pass(
            catalog_dir,
            "stations.tle",
            "ISS (ZARYA)",
            culmination,
            np.array([times[k] - 0.05, times[k] + 0.05]),
        )
        east, north, _ = tangent_basis(ra[k], dec[k])
        from orbitlink.tracking.sky import unit_from_radec

        velocity = unit_from_radec(h_ra[1], h_dec[1]) - unit_from_radec(h_ra[0], h_dec[0])
        true_rate = np.degrees([velocity @ east, velocity @ north]) / 0.1
        error = np.hypot(record.ra_rate_deg_s - true_rate[0], record.dec_rate_deg_s - true_rate[1])
        assert error < 0.02 * np.hypot(*true_rate) + 0.002, (k, error, true_rate)


def test_records_equal_validated_track_updates() -> None:
    """Records are built without pydantic validation for speed; they must be exactly what
    validation would give (this fails if a pydantic upgrade changes the model internals)."""
    records = run(geo_scene(seed=3), TrackerSettings(publish_tentative=True), sigma_arcsec=2.0)
    assert {r.status for r in records} >= {"tentative", "confirmed", "deleted"}
    for record in records:
        validated = TrackUpdate.model_validate(record.model_dump())
        assert record == validated
        assert record.to_json() == validated.to_json()
        assert record.model_fields_set == validated.model_fields_set
        assert all(
            np.isfinite(v)
            for v in (record.ra_deg, record.dec_deg, record.ra_rate_deg_s, record.dec_rate_deg_s)
        )


def test_initiation_bridges_a_missed_frame() -> None:
    """Detections in frames 0, 2, 4, 5, 6: the pair (0, 2) starts a track across the missed
    frame 1, and 5 detections within 7 frames confirm it at frame 6."""
    frames = single_target_frames([True, False, True, False, True, True, True])
    records = run(frames, TrackerSettings(publish_tentative=True), sigma_arcsec=2.0)
    assert {r.track_id for r in records} == {f"{SENSOR}-000001"}
    assert [(r.frame_id, r.status, r.n_updates, r.det_id) for r in records] == [
        ("f2", "tentative", 2, "f2-t0"),
        ("f3", "tentative", 2, None),
        ("f4", "tentative", 3, "f4-t0"),
        ("f5", "tentative", 4, "f5-t0"),
        ("f6", "confirmed", 5, "f6-t0"),
    ]
    # Consecutive frames only: the same detections never make a track.
    strict = run(frames, TrackerSettings(init_max_frame_gap=1), sigma_arcsec=2.0)
    assert strict == []


def test_real_geo_object_is_tracked_over_30_s_frames(catalog_dir: Path) -> None:
    """The first object of the real GEO catalogue that is above 30 degrees from the site,
    drifting against the stars past a sidereally tracking telescope: 30 s frames, sigma
    2 arcsec, Pd 0.9, clutter."""
    from skyfield.api import EarthSatellite, wgs84

    from orbitlink.tracking.times import timescale

    ts = timescale()
    site = wgs84.latlon(39.0, -105.0, elevation_m=1800.0)
    start = datetime(2026, 5, 30, 6, 0, 0, tzinfo=UTC)
    t_start = ts.from_datetime(start)
    lines = [
        line.rstrip() for line in (catalog_dir / "geo.tle").read_text().splitlines() if line.strip()
    ]
    for i in range(0, len(lines) - 2, 3):
        satellite = EarthSatellite(lines[i + 1], lines[i + 2], lines[i].strip(), ts)
        if (satellite - site).at(t_start).altaz()[0].degrees > 30.0:
            break
    else:
        pytest.fail("no GEO object above 30 degrees")
    times = np.arange(26) * 30.0  # one more than the frames, for a central-difference rate
    t = ts.from_datetimes([start + timedelta(seconds=float(s)) for s in times])
    ra_angle, dec_angle, _ = (satellite - site).at(t).radec()
    ra, dec = ra_angle._degrees % 360.0, dec_angle.degrees
    fov = FieldOfView(ra_deg=float(ra[12]), dec_deg=float(dec[12]), radius_deg=3.0)
    frames = make_frames(
        [(ra[:-1], dec[:-1])],
        times[:-1],
        fov,
        np.random.default_rng(8),
        2.0,
        pd=0.9,
        clutter_per_frame=3.0,
    )
    records = run(frames, sigma_arcsec=2.0)
    detections_of = track_detections(records)
    assert len(detections_of) == 1, (satellite.name, detections_of)
    (det_ids,) = detections_of.values()
    assert all(source_of(d) == 0 for d in det_ids)
    n_detected = sum(source_of(d.det_id) == 0 for f in frames for d in f.detections)
    assert len(det_ids) >= 0.6 * n_detected
    final = records[-1]
    k = int(round((final.time - T0).total_seconds() / 30.0))
    drift = 3600 * angular_separation_deg(ra[k - 1], dec[k - 1], ra[k + 1], dec[k + 1]) / 60.0
    assert 10.0 < drift < 20.0  # arcsec/s: a GEO object against the stars
    true_rate = (
        np.array([(ra[k + 1] - ra[k - 1]) * np.cos(np.radians(dec[k])), dec[k + 1] - dec[k - 1]])
        / 60.0
    )
    error_arcsec_s = 3600 * np.hypot(
        final.ra_rate_deg_s - true_rate[0], final.dec_rate_deg_s - true_rate[1]
    )
    assert error_arcsec_s < 0.3, error_arcsec_s


def test_long_gap_empty_frames_and_pole_detections_are_handled() -> None:
    frames = single_target_frames([True] * 8)
    tracker = SensorTracker(SENSOR)
    for frame in frames:
        tracker.process(frame, 2.0)
    assert tracker.confirmed.tolist() == [True]
    # An empty frame: the track coasts.
    empty = Frame(frame_id="empty", sensor_id=SENSOR, time=frames[-1].time + timedelta(seconds=10))
    (coast,) = tracker.process(empty, 2.0).updates
    assert coast.status == "coasting" and coast.n_missed == 1
    # Six hours later (the next night's pass): the prediction is worthless, the track is
    # deleted with a final record, and detections exactly at the pole start nothing odd.
    later = Frame(
        frame_id="later",
        sensor_id=SENSOR,
        time=empty.time + timedelta(hours=6),
        detections=[
            Detection(det_id="pole", ra_deg=0.0, dec_deg=90.0),
            Detection(det_id="near", ra_deg=180.0, dec_deg=89.9999),
        ],
    )
    (gone,) = tracker.process(later, 2.0).updates
    assert gone.status == "deleted" and gone.track_id == coast.track_id
    assert tracker.n_tracks == 0
    after = Frame(
        frame_id="after",
        sensor_id=SENSOR,
        time=later.time + timedelta(seconds=1),
        detections=[Detection(det_id="pole2", ra_deg=90.0, dec_deg=90.0)],
    )
    assert tracker.process(after, 2.0).disposition == "processed"
    # Pole pairs give finite tentative tracks.
    assert tracker.n_tracks >= 1 and np.isfinite(tracker.covariance).all()
    assert np.isfinite(tracker.rates_deg_s).all()

"""Frames JSONL, sensors JSON and records JSONL: round trips and the errors bad input gets."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from orbitlink.tracking.formats import (
    FormatError,
    Reject,
    iter_frames_jsonl,
    parse_record,
    read_records,
    read_sensors,
    write_frames_jsonl,
    write_records,
    write_sensors,
)
from orbitlink.tracking.models import (
    Association,
    Detection,
    FieldOfView,
    Frame,
    Sensor,
    TrackUpdate,
)


@pytest.fixture(scope="module")
def iss_tle(catalog_dir: Path) -> list[str]:
    lines = (catalog_dir / "stations.tle").read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("1 25544"))
    return lines[index : index + 2]


@pytest.fixture()
def sensors(iss_tle: list[str]) -> list[Sensor]:
    return [
        Sensor(
            sensor_id="4171",
            lat_deg=52.8344,
            lon_deg=6.3785,
            alt_m=10.0,
            fov_radius_deg=2.5,
            sigma_arcsec=3.0,
            name="Cees Bassa",
        ),
        Sensor(sensor_id="iss-cam", tle=iss_tle, fov_radius_deg=10.0),
    ]


@pytest.fixture()
def frames(sensors: list[Sensor]) -> list[Frame]:
    ground, space = sensors
    return [
        Frame(
            frame_id="f1",
            sensor_id="4171",
            time="2026-05-30T20:01:02.250Z",
            exposure_s=2.0,
            fov=FieldOfView(ra_deg=120.0, dec_deg=30.0, radius_deg=2.5),
            sensor=ground,
            detections=[
                Detection(det_id="a", ra_deg=120.1, dec_deg=30.2, sigma_arcsec=2.0, mag=8.5),
                Detection(ra_deg=119.9, dec_deg=29.95),
            ],
        ),
        Frame(frame_id="f2", sensor_id="iss-cam", time="2026-05-30T20:01:03Z", sensor=space),
        Frame(frame_id="f3", sensor_id="4171", time="2026-05-30T20:01:04.000001Z"),
    ]


def test_frames_round_trip_plain_and_gzip(tmp_path: Path, frames: list[Frame]) -> None:
    for name in ("frames.jsonl", "frames.jsonl.gz"):
        path = tmp_path / name
        assert write_frames_jsonl(frames, path) == 3
        back = list(iter_frames_jsonl(path))
        assert back == frames
    # the .gz file really is gzip, one JSON object a line
    with gzip.open(tmp_path / "frames.jsonl.gz", "rt") as handle:
        first = json.loads(handle.readline())
    assert first["detections"][1]["det_id"] == "f1:1"  # filled in deterministically
    assert first["sensor"]["lat_deg"] == 52.8344
    assert back[1].sensor is not None and back[1].sensor.is_space_based


def test_frames_read_from_lines_and_append(tmp_path: Path, frames: list[Frame]) -> None:
    path = tmp_path / "f.jsonl"
    write_frames_jsonl(frames[:1], path)
    write_frames_jsonl(frames[1:], path, append=True)
    lines = path.read_text().splitlines()
    lines.insert(1, "   ")  # blank lines are skipped, line numbers still count them
    assert list(iter_frames_jsonl(lines)) == frames


def test_bad_line_names_file_line_and_field(tmp_path: Path, frames: list[Frame]) -> None:
    path = tmp_path / "bad.jsonl"
    good = frames[0].to_json()
    bad = json.loads(good)
    bad["detections"][0]["dec_deg"] = 91.0
    path.write_text(good + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(FormatError) as info:
        list(iter_frames_jsonl(path))
    error = info.value
    assert error.line_no == 2
    assert error.field == "detections.0.dec_deg"
    assert error.source == str(path)
    assert str(path) in str(error) and "line 2" in str(error) and "dec_deg" in str(error)
    assert error.text == json.dumps(bad)


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        ('{"frame_id": "x", "sensor_id": "s"}', "time", "Field required"),
        ('{"frame_id": "x", "sensor_id": "s", "time": "yesterday"}', "time", "ISO-8601"),
        (
            '{"frame_id": "x", "sensor_id": "s", "time": "2026-05-30T00:00:00Z", '
            '"fov": {"ra_deg": 1, "dec_deg": 2, "radius_deg": 0}}',
            "fov.radius_deg",
            "greater than",
        ),
        (
            '{"frame_id": "x", "sensor_id": "s", "time": "2026-05-30T00:00:00Z", "detections": '
            '[{"det_id": "d", "ra_deg": 1, "dec_deg": 2}, '
            '{"det_id": "d", "ra_deg": 1, "dec_deg": 2}]}',
            None,
            "repeated",
        ),
        ("[1, 2]", None, "expected a JSON object"),
        ('{"frame_id": "x", ', None, "not valid JSON"),
    ],
)
def test_rejected_lines(line: str, field: str | None, words: str) -> None:
    with pytest.raises(FormatError) as info:
        parse_record(line, Frame, source="t.jsonl", line_no=7)
    assert info.value.field == field
    assert words in str(info.value)
    assert "t.jsonl, line 7" in str(info.value)


def test_lenient_mode_yields_rejects_and_keeps_going(frames: list[Frame]) -> None:
    lines = [
        frames[0].to_json(),
        "{not json",
        frames[1].to_json(),
        '{"frame_id": "", "sensor_id": "s", "time": "2026-05-30T00:00:00Z"}',
        frames[2].to_json(),
    ]
    rejects: list[Reject] = []
    out = iter_frames_jsonl(lines, rejects=rejects)
    # lazy: a reject is appended when the iteration reaches its line, so the order of lines
    # 1-5 (Frame, Reject, Frame, Reject, Frame) shows as the rejects seen before each frame
    seen = [(frame.frame_id, [r.line_no for r in rejects]) for frame in out]
    assert seen == [
        (frames[0].frame_id, []),
        (frames[1].frame_id, [2]),
        (frames[2].frame_id, [2, 4]),
    ]
    assert [r.line_no for r in rejects] == [2, 4]
    assert rejects[1].error.field == "frame_id"
    assert rejects[0].error.text == "{not json"
    line_no, error = rejects[0]  # unpacks as (line_no, error)
    assert line_no == 2 and isinstance(error, FormatError)
    with pytest.raises(FormatError):
        list(iter_frames_jsonl(lines))


def test_sensors_round_trip(tmp_path: Path, sensors: list[Sensor]) -> None:
    path = tmp_path / "sensors.json"
    assert write_sensors(sensors, path) == 2
    data = json.loads(path.read_text())
    assert isinstance(data, list) and "tle" not in data[0] and "lat_deg" not in data[1]
    back = read_sensors(path)
    assert list(back) == ["4171", "iss-cam"]
    assert back["4171"] == sensors[0] and back["iss-cam"] == sensors[1]
    assert read_sensors(io.StringIO(path.read_text())) == back
    # a mapping writes the same file
    write_sensors(back, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == path.read_text()


def test_sensors_errors(tmp_path: Path, sensors: list[Sensor]) -> None:
    path = tmp_path / "s.json"
    doubled = [s.model_dump(mode="json") for s in (sensors[0], sensors[1], sensors[0])]
    path.write_text(json.dumps(doubled))
    with pytest.raises(FormatError, match="'4171' is repeated") as info:
        read_sensors(path)
    assert info.value.line_no == 3
    with pytest.raises(ValueError, match="repeated"):
        write_sensors([sensors[0], sensors[0]], tmp_path / "x.json")

    path.write_text(json.dumps([{"sensor_id": "g", "lat_deg": 95.0, "lon_deg": 0.0}]))
    with pytest.raises(FormatError) as info:
        read_sensors(path)
    assert info.value.field == "lat_deg" and "'g'" in str(info.value)

    path.write_text(json.dumps([{"sensor_id": "g"}]))
    with pytest.raises(FormatError, match="needs lat_deg"):
        read_sensors(path)
    path.write_text(json.dumps({"sensor_id": "g", "lat_deg": 1, "lon_deg": 2}))
    with pytest.raises(FormatError, match="JSON array"):
        read_sensors(path)


def test_records_round_trip(tmp_path: Path) -> None:
    covariance = [[1e-6 if i == j else 0.0 for j in range(4)] for i in range(4)]
    updates = [
        TrackUpdate(
            track_id=f"t{i}",
            sensor_id="4171",
            frame_id="f1",
            time="2026-05-30T20:01:02Z",
            status="confirmed",
            ra_deg=120.0 + i,
            dec_deg=30.0,
            ra_rate_deg_s=0.01,
            dec_rate_deg_s=-0.002,
            covariance=covariance,
            n_updates=5,
            det_id="a",
        )
        for i in range(3)
    ]
    associations = [
        Association(
            track_id="t0",
            sensor_id="4171",
            time="2026-05-30T20:01:02Z",
            norad_id=25544,
            name="ISS (ZARYA)",
            uct=False,
            cross_track_arcsec=12.5,
            confidence=0.97,
            element_epoch="2026-05-30T12:25:10Z",
        ),
        Association(
            track_id="t1", sensor_id="4171", time="2026-05-30T20:01:02Z", uct=True, confidence=0.0
        ),
    ]
    assert write_records(updates, tmp_path / "tracks.jsonl") == 3
    assert write_records(associations, tmp_path / "assoc.jsonl") == 2
    assert read_records(tmp_path / "tracks.jsonl", TrackUpdate) == updates
    back = read_records(tmp_path / "assoc.jsonl", Association)
    assert back == associations and back[0].element_epoch is not None

    # a record of the wrong model is refused with its field named
    with pytest.raises(FormatError) as info:
        read_records(tmp_path / "tracks.jsonl", Association)
    assert info.value.line_no == 1 and "uct" in str(info.value)


def test_bytes_that_are_not_utf8(tmp_path: Path, frames: list[Frame]) -> None:
    path = tmp_path / "latin1.jsonl"
    bad = frames[2].to_json().replace('"f3"', '"caf\u00e9"').encode("latin-1")
    path.write_bytes(
        frames[0].to_json().encode() + b"\n" + bad + b"\n" + frames[1].to_json().encode() + b"\n"
    )
    rejects: list[Reject] = []
    out = list(iter_frames_jsonl(path, rejects=rejects))
    assert [f.frame_id for f in out] == [frames[0].frame_id, frames[1].frame_id]
    assert [r.line_no for r in rejects] == [2] and "not UTF-8" in str(rejects[0].error)
    with pytest.raises(FormatError, match="line 2: not UTF-8"):
        list(iter_frames_jsonl(path))
    sensors_path = tmp_path / "s.json"
    sensors_path.write_bytes(b'[\n{"sensor_id": "caf\xe9", "lat_deg": 1, "lon_deg": 2}]')
    with pytest.raises(FormatError, match="line 2: not UTF-8"):
        read_sensors(sensors_path)

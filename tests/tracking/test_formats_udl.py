"""UDL EOObservation JSON: reading, grouping into frames, errors, and the writer round trip."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from skyfield.api import EarthSatellite, wgs84

from orbitlink.tracking.formats import FormatError, Reject
from orbitlink.tracking.formats.udl import (
    frames_from_eo_observations,
    iter_eo_observations,
    read_udl,
    write_udl,
)
from orbitlink.tracking.models import Sensor
from orbitlink.tracking.sky import angular_separation_deg
from orbitlink.tracking.times import timescale

T0 = datetime(2026, 5, 30, 20, 0, 0, 250000, tzinfo=UTC)


@pytest.fixture(scope="module")
def iss_tle(catalog_dir: Path) -> list[str]:
    lines = (catalog_dir / "stations.tle").read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("1 25544"))
    return lines[index : index + 2]


def _record(**overrides: object) -> dict:
    base = {
        "classificationMarking": "U",
        "dataMode": "TEST",
        "source": "test",
        "obTime": "2026-05-30T20:00:00.250000Z",
        "idSensor": "SITE-A",
        "ra": 150.25,
        "declination": -12.5,
        "raUnc": 0.0005,
        "declinationUnc": 0.0004,
        "senlat": 32.9,
        "senlon": -105.5,
        "senalt": 2.2,
        "satNo": 25544,
        "mag": 4.5,
        "uct": False,
        "expDuration": 1.5,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def _iss_records(iss_tle: list[str]) -> list[dict]:
    """Topocentric ICRS RA/Dec of the ISS from a real TLE, as a UDL provider would send."""
    ts = timescale()
    sat = EarthSatellite(iss_tle[0], iss_tle[1], "ISS", ts)
    site = wgs84.latlon(52.8344, 6.3785, elevation_m=10.0)
    records = []
    for k in range(5):
        when = T0 + timedelta(seconds=2 * k)
        ra, dec, _ = (sat - site).at(ts.from_datetime(when)).radec()
        records.append(
            _record(
                obTime=when.isoformat().replace("+00:00", "Z"),
                ra=ra.hours * 15,
                declination=dec.degrees,
                senlat=52.8344,
                senlon=6.3785,
                senalt=0.010,
                idSensor="4171",
            )
        )
        # a second object in the same exposure, uncorrelated
        records.append(
            _record(
                obTime=when.isoformat().replace("+00:00", "Z"),
                ra=(ra.hours * 15 + 0.5) % 360,
                declination=dec.degrees - 0.3,
                senlat=52.8344,
                senlon=6.3785,
                senalt=0.010,
                idSensor="4171",
                satNo=None,
                uct=True,
                origObjectId="UCT-7",
            )
        )
    return records


def test_read_array_and_group_by_sensor_and_time(tmp_path: Path, iss_tle: list[str]) -> None:
    records = _iss_records(iss_tle)
    path = tmp_path / "eo.json"
    path.write_text(json.dumps(records))
    frames = read_udl(path)
    assert len(frames) == 5 and all(len(f.detections) == 2 for f in frames)
    first = frames[0]
    assert first.frame_id == "4171-20260530T200000.250"
    assert first.time == T0 and first.exposure_s == 1.5
    assert first.sensor == Sensor(sensor_id="4171", lat_deg=52.8344, lon_deg=6.3785, alt_m=10.0)
    assert [d.det_id for d in first.detections] == [
        "4171-20260530T200000.250:0:25544",
        "4171-20260530T200000.250:1",
    ]
    iss = first.detections[0]
    assert iss.ra_deg == pytest.approx(records[0]["ra"]) and iss.mag == 4.5
    # RMS of 0.0005 deg * cos(dec) and 0.0004 deg, in arcsec
    cos_dec = math.cos(math.radians(records[0]["declination"]))
    expected = math.sqrt(((0.0005 * cos_dec) ** 2 + 0.0004**2) / 2) * 3600
    assert iss.sigma_arcsec == pytest.approx(expected)
    # the ISS moves: consecutive frames differ on the sky
    sep = angular_separation_deg(
        frames[0].detections[0].ra_deg,
        frames[0].detections[0].dec_deg,
        frames[1].detections[0].ra_deg,
        frames[1].detections[0].dec_deg,
    )
    assert sep > 0.01


def test_jsonl_and_lines_give_the_same_frames(tmp_path: Path, iss_tle: list[str]) -> None:
    records = _iss_records(iss_tle)
    (tmp_path / "a.json").write_text(json.dumps(records))
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    assert read_udl(tmp_path / "a.json") == read_udl(tmp_path / "b.jsonl")
    assert read_udl([json.dumps(r) for r in records]) == read_udl(tmp_path / "a.json")


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"obTime": None}, "obTime", "Field required"),
        ({"obTime": "30/05/2026"}, "obTime", "ISO-8601"),
        ({"declination": 95.0}, "declination", "less than or equal to 90"),
        ({"ra": "east"}, "ra", "valid number"),
        ({"raUnc": -1.0}, "raUnc", "greater than 0"),
        ({"satNo": "ISS"}, "satNo", "valid integer"),
        ({"referenceFrame": "TEME"}, "referenceFrame", "not supported"),
        ({"referenceFrame": "B1950"}, "referenceFrame", "Input should be"),
    ],
)
def test_bad_records_name_the_field(change: dict, field: str, words: str) -> None:
    lines = [json.dumps(_record()), json.dumps(_record(**change))]
    with pytest.raises(FormatError) as info:
        list(iter_eo_observations(lines))
    assert info.value.line_no == 2 and info.value.field == field
    assert words in str(info.value)


def test_array_record_numbers_and_lenient_mode(tmp_path: Path) -> None:
    path = tmp_path / "eo.json"
    path.write_text(
        json.dumps([_record(), _record(declination=-91), "oops", _record(), _record(idSensor=None)])
    )
    with pytest.raises(FormatError) as info:
        read_udl(path)
    assert info.value.line_no == 2 and str(path) in str(info.value)
    rejects: list[Reject] = []
    frames = read_udl(path, rejects=rejects)
    # record 5 passes validation but has no sensor: still reported by its own number
    assert [r.line_no for r in rejects] == [2, 3, 5]
    assert "expected an EOObservation object" in str(rejects[1].error)
    assert "no idSensor" in str(rejects[2].error) and f"{path}, line 5" in str(rejects[2].error)
    assert len(frames) == 1 and len(frames[0].detections) == 2
    path.write_text('[{"obTime": ')
    with pytest.raises(FormatError, match="not valid JSON"):
        read_udl(path)


def test_json_lines_rejects_keep_their_file_line(tmp_path: Path) -> None:
    path = tmp_path / "eo.jsonl"
    lines = [_record(), "", _record(ra=400.0), "", "", _record(idSensor=None), _record()]
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    )
    # strict: the sensorless record is named by its own line in the file
    with pytest.raises(FormatError, match=r"eo\.jsonl, line 3, field 'ra'"):
        read_udl(path)
    path.write_text(path.read_text().replace('"ra": 400.0', '"ra": 40.0'))
    with pytest.raises(FormatError, match=f"{path}, line 6.*no idSensor"):
        read_udl(path)
    path.write_text(path.read_text().replace('"ra": 40.0', '"ra": 400.0'))
    rejects: list[Reject] = []
    frames = read_udl(path, rejects=rejects)
    assert [r.line_no for r in rejects] == [3, 6]
    assert [r.error.line_no for r in rejects] == [3, 6]
    assert len(frames) == 1 and len(frames[0].detections) == 2
    # the lazy iterator appends as it goes, and refuses a non-list before reading
    rejects = []
    records = iter_eo_observations(path, rejects=rejects)
    next(records)
    assert rejects == []
    next(records)
    assert [r.line_no for r in rejects] == [3]
    with pytest.raises(TypeError, match="rejects must be a list"):
        iter_eo_observations(path, rejects=True)  # type: ignore[arg-type]


def test_sensors_space_based_and_unknown(iss_tle: list[str]) -> None:
    space = Sensor(sensor_id="SAT-CAM", tle=iss_tle, fov_radius_deg=5.0)
    ground = Sensor(
        sensor_id="SITE-A",
        lat_deg=1.0,
        lon_deg=2.0,
        alt_m=3.0,
        sigma_arcsec=1.5,
        fov_radius_deg=2.0,
        name="A",
    )
    records = list(
        iter_eo_observations(
            [
                json.dumps(_record()),
                json.dumps(
                    _record(
                        idSensor="SAT-CAM",
                        senlat=None,
                        senlon=None,
                        senalt=None,
                        senx=6800.0,
                        seny=10.0,
                        senz=20.0,
                    )
                ),
                json.dumps(
                    _record(
                        idSensor="OTHER-SAT",
                        senlat=None,
                        senlon=None,
                        senalt=None,
                        senx=6800.0,
                        seny=10.0,
                        senz=20.0,
                    )
                ),
                json.dumps(_record(idSensor="NOWHERE", senlat=None, senlon=None, senalt=None)),
                json.dumps(_record(idSensor="HIGH", senalt=550.0)),
                json.dumps(_record(idSensor=None)),
                json.dumps(_record(idSensor=None, origSensorId="ORIG-1")),
            ]
        )
    )
    rejects: list[Reject] = []
    frames = frames_from_eo_observations(
        records, {"SAT-CAM": space, "SITE-A": ground}, rejects=rejects
    )
    by_sensor = {f.sensor_id: f for f in frames}
    assert set(by_sensor) == {"SITE-A", "SAT-CAM", "ORIG-1"}
    assert by_sensor["SAT-CAM"].sensor == space
    # the record's position wins, the sensors file keeps its sigma, FoV and name
    merged = by_sensor["SITE-A"].sensor
    assert (merged.lat_deg, merged.lon_deg, merged.alt_m) == (32.9, -105.5, 2200.0)
    assert (merged.sigma_arcsec, merged.fov_radius_deg, merged.name) == (1.5, 2.0, "A")
    reasons = [r.error.reason for r in rejects]
    assert [r.line_no for r in rejects] == [3, 4, 5, 6]
    assert "needs its TLE" in reasons[0] and "not in the sensors file" in reasons[1]
    assert "not a ground site" in reasons[2] and "no idSensor" in reasons[3]
    with pytest.raises(FormatError, match="OTHER-SAT"):
        frames_from_eo_observations(records, {"SAT-CAM": space})


def test_writer_round_trip(tmp_path: Path, iss_tle: list[str]) -> None:
    frames = read_udl([json.dumps(r) for r in _iss_records(iss_tle)])
    for name, lines in (("out.json", False), ("out.jsonl", True)):
        assert write_udl(frames, tmp_path / name, lines=lines) == 10
        back = read_udl(tmp_path / name)
        assert back == frames
    written = json.loads((tmp_path / "out.json").read_text())
    assert written[0]["satNo"] == 25544 and written[0]["uct"] is False
    assert "satNo" not in written[1] and "uct" not in written[1]
    assert written[0]["senalt"] == pytest.approx(0.010)
    assert {"classificationMarking", "dataMode", "source", "obTime"} <= set(written[0])

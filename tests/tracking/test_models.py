"""The records' validation: what is physically impossible is rejected with the field named."""

from __future__ import annotations

import json

import pytest

from orbitlink.tracking.models import (
    Association,
    Frame,
    Sensor,
    TrackUpdate,
    ValidationError,
)

GOOD_FRAME = {
    "frame_id": "f1",
    "sensor_id": "s1",
    "time": "2026-05-31T01:02:03.25Z",
    "exposure_s": 1.0,
    "fov": {"ra_deg": 10.0, "dec_deg": -5.0, "radius_deg": 1.5},
    "detections": [
        {"ra_deg": 10.1, "dec_deg": -5.2, "sigma_arcsec": 3.0, "mag": 11.2},
        {"det_id": "custom", "ra_deg": 9.9, "dec_deg": -4.9},
    ],
}


def _rejected_field(data: dict, model=Frame) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return ".".join(str(part) for part in caught.value.errors()[0]["loc"])


def test_frame_round_trips_through_json_and_fills_detection_ids():
    frame = Frame.model_validate(GOOD_FRAME)
    assert [d.det_id for d in frame.detections] == ["f1:0", "custom"]
    again = Frame.model_validate_json(frame.to_json())
    assert again == frame
    assert json.loads(frame.to_json())["time"] == "2026-05-31T01:02:03.250000Z"


def test_time_with_offset_is_converted_to_utc():
    frame = Frame.model_validate({**GOOD_FRAME, "time": "2026-05-31T03:02:03.25+02:00"})
    assert frame.to_json().startswith('{"time":"2026-05-31T01:02:03.250000Z"')


@pytest.mark.parametrize(
    "change, field",
    [
        ({"time": "31/05/2026 01:02"}, "time"),
        ({"time": 12}, "time"),
        ({"frame_id": ""}, "frame_id"),
        ({"exposure_s": -1}, "exposure_s"),
        ({"detections": [{"ra_deg": 10.0, "dec_deg": 91.0}]}, "detections.0.dec_deg"),
        ({"detections": [{"ra_deg": 10.0, "dec_deg": float("nan")}]}, "detections.0.dec_deg"),
        ({"detections": [{"ra_deg": 400.0, "dec_deg": 1.0}]}, "detections.0.ra_deg"),
        (
            {"detections": [{"ra_deg": 1.0, "dec_deg": 1.0, "sigma_arcsec": -2}]},
            "detections.0.sigma_arcsec",
        ),
        ({"fov": {"ra_deg": 1.0, "dec_deg": 1.0, "radius_deg": 0}}, "fov.radius_deg"),
    ],
)
def test_impossible_values_are_rejected_naming_the_field(change, field):
    assert _rejected_field({**GOOD_FRAME, **change}) == field


def test_repeated_detection_ids_are_rejected():
    data = {
        **GOOD_FRAME,
        "detections": [
            {"det_id": "a", "ra_deg": 1, "dec_deg": 1},
            {"det_id": "a", "ra_deg": 2, "dec_deg": 1},
        ],
    }
    with pytest.raises(ValidationError, match="repeated"):
        Frame.model_validate(data)


def test_negative_ra_wraps_but_nan_does_not():
    frame = Frame.model_validate({**GOOD_FRAME, "detections": [{"ra_deg": -0.5, "dec_deg": 0}]})
    assert frame.detections[0].ra_deg == pytest.approx(359.5)


def test_sensor_is_ground_or_space_not_both():
    ground = Sensor(sensor_id="g", lat_deg=52.8, lon_deg=6.4)
    assert ground.alt_m == 0.0 and not ground.is_space_based
    tle = [
        "1 25544U 98067A   26150.50000000  .00010000  00000+0  18000-3 0  9991",
        "2 25544  51.6400 100.0000 0005000  90.0000 270.0000 15.50000000  0003",
    ]
    space = Sensor(sensor_id="s", tle=["ISS (ZARYA)", *tle])
    assert space.is_space_based and space.tle == tle
    with pytest.raises(ValidationError, match="not both"):
        Sensor(sensor_id="x", lat_deg=1, lon_deg=2, tle=tle)
    with pytest.raises(ValidationError, match="needs lat_deg"):
        Sensor(sensor_id="x")
    assert _rejected_field({"sensor_id": "x", "lat_deg": 95, "lon_deg": 0}, Sensor) == "lat_deg"


def test_inline_sensor_must_match_the_frame():
    inline = {"sensor_id": "other", "lat_deg": 1.0, "lon_deg": 2.0}
    with pytest.raises(ValidationError, match="differs"):
        Frame.model_validate({**GOOD_FRAME, "sensor": inline})


def test_track_update_and_association_records_are_flat_json():
    update = TrackUpdate(
        track_id="s1-000001",
        sensor_id="s1",
        time="2026-05-31T00:00:00Z",
        status="confirmed",
        ra_deg=1,
        dec_deg=2,
        ra_rate_deg_s=0.1,
        dec_rate_deg_s=-0.1,
        covariance=[[0.0] * 4] * 4,
        n_updates=3,
        det_id="f1:0",
    )
    flat = json.loads(update.to_json())
    assert flat["track_id"] == "s1-000001" and len(flat["covariance"]) == 4
    with pytest.raises(ValidationError):
        TrackUpdate.model_validate({**flat, "covariance": [[0.0] * 3] * 4})
    with pytest.raises(ValidationError, match="no norad_id"):
        Association(
            track_id="t",
            sensor_id="s",
            time="2026-05-31T00:00:00Z",
            uct=True,
            norad_id=5,
            confidence=0.5,
        )
    association = Association(
        track_id="t",
        sensor_id="s",
        time="2026-05-31T00:00:00Z",
        uct=False,
        norad_id=25544,
        confidence=0.9,
        element_epoch="2026-05-30T12:00:00Z",
    )
    assert json.loads(association.to_json())["element_epoch"] == "2026-05-30T12:00:00.000000Z"

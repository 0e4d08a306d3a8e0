"""The wire codecs against hostile but fair input (issue 9): every odd message gets a reason
that names what is wrong, and nothing odd passes for a good record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orbitlink.stream.codecs import decode_element_set, decode_frame, decode_sensor
from orbitlink.tracking.catalogue import Catalogue, tle_checksum
from orbitlink.tracking.errors import FormatError
from orbitlink.tracking.models import Frame

GOOD_FRAME = {
    "time": "2026-05-31T04:40:00Z",
    "frame_id": "f-1",
    "sensor_id": "ctio-geo",
    "detections": [{"ra_deg": 214.85, "dec_deg": 5.34, "sigma_arcsec": 2.0}],
}


def _reason(decode, value: bytes | None) -> str:
    with pytest.raises(FormatError) as caught:
        decode(value)
    return caught.value.reason


def _frame(**changes) -> bytes:
    return json.dumps(dict(GOOD_FRAME, **changes)).encode()


def _detection(**changes) -> bytes:
    return _frame(detections=[dict(GOOD_FRAME["detections"][0], **changes)])


def test_a_good_frame_decodes() -> None:
    frame = decode_frame(json.dumps(GOOD_FRAME).encode())
    assert frame.detections[0].ra_deg == 214.85 and frame.detections[0].det_id == "f-1:0"


@pytest.mark.parametrize("value", [None, b""])
def test_no_bytes_is_an_empty_message(value: bytes | None) -> None:
    assert _reason(decode_frame, value).startswith("empty message")


def test_deep_nesting_is_not_json_the_engine_accepts() -> None:
    reason = _reason(decode_frame, b"[" * 10_000 + b"]" * 10_000)
    assert reason.startswith("not JSON the engine accepts: ") and "nested" in reason


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (_detection(ra_deg=True), "detections.0.ra_deg"),
        (_detection(dec_deg="12.5"), "detections.0.dec_deg"),
        (_frame(exposure_s=True), "exposure_s"),
        (_frame(frame_id=12), "frame_id"),
    ],
)
def test_numbers_and_strings_are_strict(value: bytes, field: str) -> None:
    reason = _reason(decode_frame, value)
    assert reason.startswith(f"schema violation in frame: {field}: "), reason


def test_integers_are_numbers() -> None:
    assert decode_frame(_detection(ra_deg=214, dec_deg=5)).detections[0].ra_deg == 214.0


def test_a_frame_needs_its_detections_key() -> None:
    value = json.dumps({k: v for k, v in GOOD_FRAME.items() if k != "detections"}).encode()
    reason = _reason(decode_frame, value)
    assert reason.startswith("schema violation in frame: detections: Field required")
    assert decode_frame(_frame(detections=[])).detections == []


def test_a_detections_key_inside_the_sensor_is_not_the_frames() -> None:
    frame = {k: v for k, v in GOOD_FRAME.items() if k != "detections"}
    frame["sensor"] = {"sensor_id": "ctio-geo", "lat_deg": -30.2, "lon_deg": -70.8}
    frame["sensor"]["detections"] = []
    reason = _reason(decode_frame, json.dumps(frame).encode())
    assert reason.startswith("schema violation in frame: detections: Field required")


@pytest.mark.parametrize(
    "value",
    [
        _detection(ra_deg=360, dec_deg=5),  # an integer, and the wrap of 360 to 0
        _detection(ra_deg=-0.25, det_id="é\u00e9 a/b"),
        _frame(time="2026-05-31T06:40:00+02:00", frame_id="\u2603"),
        _detection(det_id="\ud800"),  # a lone surrogate: Python's JSON reads it
        b" \n" + _frame() + b"\n",
        json.dumps(dict(GOOD_FRAME, frame_id="a"))
        .replace('"frame_id"', '"frame_id": "b", "frame_id"', 1)
        .encode(),
    ],
)
def test_frames_decode_as_the_standard_library_reads_them(value: bytes) -> None:
    """Whichever way a frame is parsed, it is the frame Python's own JSON reader sees."""
    expected = Frame.model_validate(json.loads(value), strict=True)
    assert decode_frame(value) == expected
    assert decode_frame(value).model_dump() == expected.model_dump()


@pytest.mark.parametrize(
    "tle",
    [
        ["1 hello", "2 world"],
        [  # a real NEOSSAT TLE with line 2's last digit (its checksum) changed
            "1 39089U 13009D   26150.50910965  .00000194  00000+0  81750-4 0  9999",
            "2 39089  98.4173 330.9627 0009972 302.8668  57.1557 14.35819744694201",
        ],
    ],
)
def test_a_sensor_with_a_bad_tle_is_refused_when_it_arrives(tle: list[str]) -> None:
    value = json.dumps({"sensor_id": "cam", "tle": tle, "fov_radius_deg": 2.0}).encode()
    reason = _reason(decode_sensor, value)
    assert reason.startswith("impossible value in sensor: tle: "), reason


def _with_epoch(line1: str, epoch_field: str) -> str:
    """``line1`` with its epoch columns (19-32) replaced and the checksum recomputed."""
    body = line1[:18] + epoch_field + line1[32:68]
    return body + str(tle_checksum(body))


@pytest.fixture(scope="module")
def iss(catalog_dir: Path) -> dict:
    catalogue = Catalogue.from_path(catalog_dir / "stations.tle")
    return catalogue.element_set(int(catalogue.index_of([25544])[0]))


def test_an_element_set_from_the_future_is_refused(iss: dict) -> None:
    future = dict(iss, line1=_with_epoch(iss["line1"], "56150.50000000"), epoch=None)
    reason = _reason(decode_element_set, json.dumps(future).encode())
    assert reason.startswith("impossible value in element set: ")
    assert "epoch 2056-05-29" in reason and "in the future" in reason


def test_the_epoch_field_is_checked_against_line_1(iss: dict) -> None:
    assert decode_element_set(json.dumps(iss).encode()).norad_id == 25544
    wrong = dict(iss, epoch="2026-01-01T00:00:00Z")
    reason = _reason(decode_element_set, json.dumps(wrong).encode())
    assert "epoch 2026-01-01T00:00:00Z differs from line 1's" in reason
    bad = dict(iss, epoch="yesterday")
    assert "is not an ISO-8601 time" in _reason(decode_element_set, json.dumps(bad).encode())

"""CCSDS TDM (KVN) angles: parsing, time systems, Az/El, errors and the writer round trip."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from orbitlink.tracking.formats import FormatError, Reject
from orbitlink.tracking.formats.iod import load_sites
from orbitlink.tracking.formats.tdm import parse_tdm, read_tdm, write_tdm
from orbitlink.tracking.models import Detection, Frame, Sensor

HEADER = """CCSDS_TDM_VERS = 2.0
COMMENT written by hand for a test
CREATION_DATE = 2026-05-31T00:00:00
ORIGINATOR = TEST
"""


def _segment(
    body: str,
    *,
    participant: str = "4171",
    target: str = "25544",
    angle_type: str = "RADEC",
    frame: str = "EME2000",
    time_system: str = "UTC",
) -> str:
    return f"""
META_START
TIME_SYSTEM = {time_system}
PARTICIPANT_1 = {participant}
PARTICIPANT_2 = {target}
MODE = SEQUENTIAL
PATH = 2,1
ANGLE_TYPE = {angle_type}
REFERENCE_FRAME = {frame}
META_STOP
DATA_START
{body.strip()}
DATA_STOP
"""


@pytest.fixture(scope="module")
def sites(iod_dir: Path) -> dict[str, Sensor]:
    return load_sites(iod_dir / "sites.txt")


def test_read_radec_segments_into_frames(sites: dict[str, Sensor]) -> None:
    text = (
        HEADER
        + _segment("""
ANGLE_1 = 2026-05-30T20:00:00.250 150.25
ANGLE_2 = 2026-05-30T20:00:00.250 -12.5
MAG = 2026-05-30T20:00:00.250 4.5
COMMENT ranges are skipped
RANGE = 2026-05-30T20:00:00.250 1234.5
ANGLE_1 = 2026-150T20:00:02.250 150.75 [deg]
ANGLE_2 = 2026-150T20:00:02.250 -12.25
""")
        + _segment(
            """
ANGLE_1 = 2026-05-30T20:00:00.250 359.999
ANGLE_2 = 2026-05-30T20:00:00.250 10.0
""",
            target="UCT-1",
        )
    )
    frames = read_tdm(text.splitlines(), sites)
    assert [f.frame_id for f in frames] == ["4171-20260530T200000.250", "4171-20260530T200002.250"]
    first = frames[0]
    assert first.sensor == sites["4171"]
    assert [(d.ra_deg, d.dec_deg, d.mag) for d in first.detections] == [
        (150.25, -12.5, 4.5),
        (359.999, 10.0, None),
    ]
    assert first.detections[0].det_id.endswith(":25544")
    assert first.detections[1].det_id.endswith(":UCT-1")
    assert first.detections[0].sigma_arcsec == sites["4171"].sigma_arcsec
    assert frames[1].time == datetime(2026, 5, 30, 20, 0, 2, 250000, tzinfo=UTC)


def test_time_systems() -> None:
    tags = {
        "UTC": "2026-05-30T20:00:00.000",
        "TAI": "2026-05-30T20:00:37.000",
        "GPS": "2026-05-30T20:00:18.000",
        "TT": "2026-05-30T20:01:09.184",
    }
    for system, tag in tags.items():
        segments = parse_tdm(
            (
                HEADER + _segment(f"ANGLE_1 = {tag} 1.0\nANGLE_2 = {tag} 2.0", time_system=system)
            ).splitlines()
        )
        when = segments[0].angles[0][0]
        assert when == datetime(2026, 5, 30, 20, 0, 0, tzinfo=UTC), system


def test_azel_needs_a_ground_sensor(sites: dict[str, Sensor], iod_dir: Path) -> None:
    from orbitlink.tracking.formats.iod import parse_iod_line

    text = HEADER + _segment(
        "ANGLE_1 = 2026-05-30T21:30:00 215.5\nANGLE_2 = 2026-05-30T21:30:00 41.5", angle_type="AZEL"
    )
    frames = read_tdm(text.splitlines(), sites)
    # the same direction through the IOD Az/El path (format 6, DDDdddd+DDdddd)
    iod = parse_iod_line("25544 98 067A   4171 G 20260530213000000 16 65 2155000+415000 18", sites)
    assert frames[0].detections[0].ra_deg == pytest.approx(iod.ra_deg, abs=1e-9)
    assert frames[0].detections[0].dec_deg == pytest.approx(iod.dec_deg, abs=1e-9)


@pytest.mark.parametrize(
    ("text", "line_no", "words"),
    [
        ("META_START\n", 1, "CCSDS_TDM_VERS"),
        (HEADER + _segment("ANGLE_1 = 2026-05-30T20:00:00 1.0"), 16, "without a matching ANGLE_2"),
        (HEADER + _segment("ANGLE_2 = 2026-05-30T20:00:00 1.0"), 16, "without an earlier ANGLE_1"),
        (
            HEADER
            + _segment("ANGLE_1 = 2026-05-30T20:00:00 1.0\nANGLE_2 = 2026-05-30T20:00:00 95"),
            17,
            "declination 95.0 out of range",
        ),
        (HEADER + _segment("ANGLE_1 = yesterday 1.0"), 16, "bad time tag"),
        (HEADER + _segment("ANGLE_1 = 2026-05-30T20:00:00 north"), 16, "not a number"),
        (
            HEADER + _segment("ANGLE_1 = 2026-05-30T20:00:00 1.0", frame="TOD"),
            14,
            "REFERENCE_FRAME",
        ),
        (HEADER + _segment("", angle_type="RANGE"), 14, "ANGLE_TYPE RANGE"),
        (HEADER + _segment("", time_system="UT1"), 14, "TIME_SYSTEM UT1"),
        (HEADER + "META_START\nTIME_SYSTEM = UTC\nMETA_STOP\n", 7, "no PARTICIPANT_1"),
        (HEADER + "DATA_START\n", 5, "out of place"),
        (HEADER + "just words\n", 5, "KEYWORD = value"),
    ],
)
def test_errors_name_the_line(text: str, line_no: int, words: str) -> None:
    with pytest.raises(FormatError) as info:
        parse_tdm(text.splitlines(), "t.tdm")
    assert info.value.line_no == line_no, str(info.value)
    assert words in str(info.value) and "t.tdm" in str(info.value)


def test_unknown_sensor_is_rejected(sites: dict[str, Sensor]) -> None:
    text = (
        HEADER
        + _segment(
            "ANGLE_1 = 2026-05-30T20:00:00 1.0\nANGLE_2 = 2026-05-30T20:00:00 2.0",
            participant="NOPE",
        )
        + _segment("ANGLE_1 = 2026-05-30T20:00:00 1.0\nANGLE_2 = 2026-05-30T20:00:00 2.0")
    )
    with pytest.raises(FormatError, match="'NOPE'"):
        read_tdm(text.splitlines(), sites)
    rejects: list[Reject] = []
    frames = read_tdm(text.splitlines(), sites, rejects=rejects)
    assert len(frames) == 1 and rejects[0].line_no == 14


def test_writer_round_trip(tmp_path: Path, sites: dict[str, Sensor]) -> None:
    t = datetime(2026, 5, 30, 20, 0, 0, 123456, tzinfo=UTC)
    frames = [
        Frame(
            frame_id="4171-20260530T200000.123",
            sensor_id="4171",
            time=t,
            sensor=sites["4171"],
            detections=[
                Detection(
                    det_id="4171-20260530T200000.123:0:25544",
                    ra_deg=123.456789012,
                    dec_deg=-45.678901234,
                    mag=3.25,
                    sigma_arcsec=sites["4171"].sigma_arcsec,
                ),
                Detection(
                    det_id="4171-20260530T200000.123:1:UNKNOWN",
                    ra_deg=0.000000001,
                    dec_deg=89.5,
                    sigma_arcsec=sites["4171"].sigma_arcsec,
                ),
            ],
        )
    ]
    assert write_tdm(frames, tmp_path / "out.tdm", creation_date=t) == 2
    text = (tmp_path / "out.tdm").read_text()
    assert text.startswith("CCSDS_TDM_VERS = 2.0") and text.count("META_START") == 2
    assert read_tdm(tmp_path / "out.tdm", sites) == frames

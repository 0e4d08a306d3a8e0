"""IOD 80-column lines: verdicts on the shared reference set, numbers checked by hand,
epochs, Az/El, the site list, frames and the writer."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from skyfield.positionlib import position_of_radec

from orbitlink.tracking.formats import Reject
from orbitlink.tracking.formats.iod import (
    IODFormatError,
    format_iod_line,
    frames_from_observations,
    iter_iod,
    load_sites,
    parse_iod_line,
)
from orbitlink.tracking.sky import angular_separation_deg
from orbitlink.tracking.times import timescale

# Lines of the reference set where no reading can give the listed verdict, because the set
# contradicts itself. Each entry: the line, and why. Anything else must match exactly.
KNOWN_CONTRADICTIONS = {
    # byte-identical to a line IOD_data_compliant_answers.txt marks True
    # ("All the variations of Station status code, including blank")
    "12345 98 123A   2007   20081122112233444 56 14 1122334+112233 39 S": (
        "blank sky condition: marked True in the compliant set and False here"
    ),
    # the noncompliant file is an older revision than its answers (which list 270I and 270O
    # instead); the compliant set accepts letters in station codes (ABCD, 000T, TRU7, T123),
    # and no character rule accepts 000T but refuses 270A
    "23794 96 010A   270A G 20040506012614270 17 25 1100114-184298 38 I+020 10": (
        "letter in a station code: the compliant set accepts 000T"
    ),
}


def _verdict(line: str) -> bool:
    try:
        parse_iod_line(line)
    except IODFormatError:
        return False
    return True


def _answers(path: Path) -> list[tuple[bool, str]]:
    out = []
    for raw in path.read_text().splitlines():
        flag, _, text = raw.partition(",")
        if flag not in ("True", "False"):
            continue
        out.append((flag == "True", text))
    return out


def test_compliant_reference_set(iod_dir: Path) -> None:
    lines = (iod_dir / "IOD_data_compliant.txt").read_text().splitlines()
    answers = _answers(iod_dir / "IOD_data_compliant_answers.txt")
    assert len(answers) == len(lines) == 63
    n_true = 0
    for line_no, (line, (expected, answer_text)) in enumerate(zip(lines, answers), start=1):
        # the answers file is the data file line by line (modulo blanks, tabs and a
        # shortened comment)
        assert " ".join(line.split()).startswith(" ".join(answer_text.split())), line_no
        assert _verdict(line) is expected, f"line {line_no}: {line!r}"
        n_true += expected
    assert n_true == 51


def test_noncompliant_reference_set(iod_dir: Path) -> None:
    lines = (iod_dir / "IOD_data_noncompliant.txt").read_text().split("\n")
    answers = _answers(iod_dir / "IOD_data_noncompliant_answers.txt")
    assert not any(expected for expected, _ in answers)  # "should return ZERO valid IODs"
    accepted = {line for line in lines if _verdict(line)}
    assert accepted == set(KNOWN_CONTRADICTIONS)
    compliant = (iod_dir / "IOD_data_compliant.txt").read_text().split("\n")
    blank_status = next(iter(KNOWN_CONTRADICTIONS))
    assert blank_status in compliant  # the contradiction is in the data, not in the parser
    assert sum(1 for line in lines if line.strip() and not line.startswith("#")) == 117


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        (
            "2379  96 010A   2701 G 20040506012614270 17 25 1100114-184298 38 I+020 10",
            "norad_id",
            "5 digits",
        ),
        (
            "23794 96-010A   2701 G 20040506012614270 17 25 1100114-184298 38 I+020 10",
            "intl_designator",
            "YY NNNPPP",
        ),
        (
            "23794 96 010A   270O G 20040506012614270 17 25 1100114-184298 38 I+020 10",
            "site",
            "not I or O",
        ),
        (
            "23794 96 010A   2701 G 20040532012614270 17 25 1100114-184298 38 I+020 10",
            "time",
            "no such date",
        ),
        (
            "23794 96 010A   2701 G 20040506012614270 17 25 1100114 184298 38 I+020 10",
            "angles",
            "column 55",
        ),
        (
            "23794 96 010A   2701 G 20040506012614270 17 25 2500114-184298 38 I+020 10",
            "angles",
            "24 h",
        ),
        (
            "23794 96 010A   2701 G 20040506012614270 17 25 1100114-914298 38 I+020 10",
            "angles",
            "exceeds 90",
        ),
        (
            "23794 96 010A   2701 G 20040506012614270 17 27 1100114-184298 38 I+020 10",
            "epoch_code",
            "0-6",
        ),
        (
            "23794 96 010A   2701 G 20040506012614270 17 25 1100114-184298 38 I+020 10  12345",
            "flash_period",
            "irregular",
        ),
        (
            "23794 96 010A   2701 G 20040506012614270 17 25 1100114-184298 38 I+020 10 12345A",
            "flash_period",
            "digits ending in col 80",
        ),
        (
            "23794 96 010A   2701 G 20040506012614270 17 25 1100114-184298 38 I+020 10 12345AB",
            "line",
            "81 characters",
        ),
        ("# 23794 96 010A", "line", "comment"),
    ],
)
def test_rejections_name_the_columns(line: str, field: str, words: str) -> None:
    with pytest.raises(IODFormatError) as info:
        parse_iod_line(line)
    assert info.value.field is not None and info.value.field.startswith(field)
    assert words in str(info.value)
    assert info.value.text is not None


def test_first_compliant_line_by_hand() -> None:
    obs = parse_iod_line(
        "23794 96 010A   2701 G 20040506012614270 17 25 1100114-184298 38 I+020 10"
    )
    assert obs.norad_id == 23794 and obs.intl_designator == "96 010A" and obs.site == "2701"
    assert obs.sky_condition == "G"
    assert obs.time == datetime(2004, 5, 6, 1, 26, 14, 270000, tzinfo=UTC)
    assert obs.time_uncertainty_s == pytest.approx(0.1)  # 1 x 10^(7-8) s
    assert (obs.angle_format, obs.epoch_code) == (2, 5)  # HHMMmmm+DDMMmm, J2000
    # RA 11h 00.114m, Dec -18 deg 42.98' (format 2: decimal minutes, not 98 arcseconds)
    assert obs.ra_deg == pytest.approx((11 + 0.114 / 60) * 15, abs=1e-12)
    assert obs.dec_deg == pytest.approx(-(18 + 42.98 / 60), abs=1e-12)
    assert obs.sigma_arcsec == pytest.approx(180.0)  # 38 = 3 x 10^0 arcmin in format 2
    assert (obs.behaviour, obs.mag, obs.mag_uncertainty) == ("I", 2.0, 1.0)
    assert obs.flash_period_s is None and obs.has_position


def test_truncated_fields_and_flash_period() -> None:
    obs = parse_iod_line("12345 98 123A   2007 F 2008112211223344  56 25 1122   +1122   28 R+05  1")
    assert obs.time == datetime(2008, 11, 22, 11, 22, 33, 440000, tzinfo=UTC)
    assert obs.time_uncertainty_s == pytest.approx(0.05)
    assert obs.ra_deg == pytest.approx((11 + 22 / 60) * 15)  # 1122 -> 11h22.000m
    assert obs.dec_deg == pytest.approx(11 + 22 / 60)
    assert obs.sigma_arcsec == pytest.approx(2 * 60)  # 2 x 10^0 arcmin
    assert obs.mag == 5.0 and obs.mag_uncertainty == 1.0  # "+05 " and "1 "
    obs = parse_iod_line(
        "12345 98 123UNK 2007 F 200811221123400   27                      P-010 05  10000"
    )
    assert obs.intl_designator == "98 123UNK" and not obs.has_position
    assert obs.mag == -1.0 and obs.mag_uncertainty == 0.5 and obs.flash_period_s == 10.0
    report = parse_iod_line("                2007 O 20081122")
    assert report.norad_id is None and report.sky_condition == "O" and not report.has_position
    for code, scale in ((1, 1.0), (3, 3600.0), (7, 3600.0)):
        obs = parse_iod_line(
            f"23794 96 010A   2701 G 20040506012614270 17 {code}5 1100114-184298 38"
        )
        assert obs.sigma_arcsec == pytest.approx(3.0 * scale)
    obs = parse_iod_line("23794 96 010A   2701 G 20040506012614270 17 75 2047449+293762 38")
    assert obs.ra_deg == pytest.approx((20 + 47 / 60 + 44.9 / 3600) * 15)
    assert obs.dec_deg == pytest.approx(29.3762)


def test_b1950_is_precessed_to_j2000() -> None:
    # Format 1, epoch 4: RA 11h22m33.4s, Dec +11d22'33" (B1950).
    obs = parse_iod_line("12345 98 123A   2007 G 20081122112233444 56 14 1122334+112233 39 S")
    ra_1950 = (11 + 22 / 60 + 33.4 / 3600) * 15
    dec_1950 = 11 + 22 / 60 + 33 / 3600

    # Independent reference: the classical rotation B1950.0 -> J2000.0 with Lieske's (1979)
    # angles zeta = 1152.84", z = 1153.04", theta = 1002.26", P = R3(-z) R2(theta) R3(-zeta).
    def r3(a: float) -> np.ndarray:
        c, s = math.cos(a), math.sin(a)
        return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])

    def r2(a: float) -> np.ndarray:
        c, s = math.cos(a), math.sin(a)
        return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])

    zeta, z, theta = (math.radians(x / 3600) for x in (1152.84, 1153.04, 1002.26))
    ra, dec = math.radians(ra_1950), math.radians(dec_1950)
    v = (
        r3(-z)
        @ r2(theta)
        @ r3(-zeta)
        @ np.array([math.cos(dec) * math.cos(ra), math.cos(dec) * math.sin(ra), math.sin(dec)])
    )
    expected_ra = math.degrees(math.atan2(v[1], v[0])) % 360
    expected_dec = math.degrees(math.asin(v[2]))
    shift = angular_separation_deg(ra_1950, dec_1950, obs.ra_deg, obs.dec_deg) * 3600
    assert shift > 900  # precession moved it by ~17 arcmin
    error = angular_separation_deg(expected_ra, expected_dec, obs.ra_deg, obs.dec_deg) * 3600
    assert error < 1.0  # IAU 2006 vs IAU 1976 precession and the frame bias: ~0.2"


def test_of_date_inverts_skyfield_radec_of_epoch() -> None:
    t = timescale().utc(2026, 5, 30, 22, 15, 30)
    ra_j2000, dec_j2000 = 201.25, -35.5
    ra_date, dec_date, _ = position_of_radec(ra_j2000 / 15, dec_j2000).radec(epoch=t)
    ra_h = ra_date.hours
    hh = int(ra_h)
    mm = (ra_h - hh) * 60
    sign = "-" if dec_date.degrees < 0 else "+"
    line = (
        f"99999 26 001A   4171 G 20260530221530000 17 30 {hh:02d}{round(mm * 1000):05d}"
        f"{sign}{round(abs(dec_date.degrees) * 10000):06d} 16"
    )
    obs = parse_iod_line(line)
    assert obs.epoch_code == 0
    error = angular_separation_deg(ra_j2000, dec_j2000, obs.ra_deg, obs.dec_deg) * 3600
    assert error < 1.0  # quantisation of the line is ~0.5"


def test_azel_uses_the_site(iod_dir: Path) -> None:
    sites = load_sites(iod_dir / "sites.txt")
    line = "25544 98 067A   4171 G 20260530213000000 16 45 2153000+413000 28"
    unresolved = parse_iod_line(line)
    assert unresolved.az_deg == pytest.approx(215.5) and unresolved.el_deg == pytest.approx(41.5)
    assert unresolved.ra_deg is None  # compliant, but needs a site to become RA/Dec
    obs = parse_iod_line(line, sites)
    assert obs.sigma_arcsec == pytest.approx(2.0)
    # frames_from_observations resolves an Az/El line parsed without sites the same way
    (frame,) = frames_from_observations([unresolved], sites)
    assert (frame.detections[0].ra_deg, frame.detections[0].dec_deg) == (obs.ra_deg, obs.dec_deg)
    # Independent check: hour angle from Greenwich apparent sidereal time and the
    # coordinates of date, then the spherical-triangle altitude and azimuth.
    t = timescale().utc(2026, 5, 30, 21, 30)
    ra_date, dec_date, _ = position_of_radec(obs.ra_deg / 15, obs.dec_deg).radec(epoch=t)
    site = sites["4171"]
    lat = math.radians(site.lat_deg)
    hour_angle = math.radians(t.gast * 15 + site.lon_deg - ra_date.hours * 15)
    dec = dec_date.radians
    alt = math.asin(
        math.sin(lat) * math.sin(dec) + math.cos(lat) * math.cos(dec) * math.cos(hour_angle)
    )
    az = math.atan2(
        -math.cos(dec) * math.sin(hour_angle),
        math.sin(dec) * math.cos(lat) - math.cos(dec) * math.sin(lat) * math.cos(hour_angle),
    )
    assert math.degrees(alt) == pytest.approx(41.5, abs=2 / 3600)
    assert math.degrees(az) % 360 == pytest.approx(215.5, abs=2 / 3600)


def test_load_sites(iod_dir: Path, tmp_path: Path) -> None:
    sites = load_sites(iod_dir / "sites.txt")
    assert len(sites) == 73
    assert sites["4171"].lat_deg == 52.8344 and sites["4171"].lon_deg == 6.3785
    assert sites["4171"].alt_m == 10 and sites["4171"].name == "Cees Bassa"
    assert sites["0433"].sensor_id == "0433"  # leading zeros kept
    assert sites["8048"].alt_m == 1.0  # "1." elevation
    assert sites["9461"].lon_deg == 19.89365
    bad = tmp_path / "sites.txt"
    bad.write_text("4171 CB 52.8 6.3 10 A\n4171 CB 52.8 6.3 10 B\n")
    with pytest.raises(Exception, match="line 2.*repeated"):
        load_sites(bad)
    bad.write_text("4171 CB north 6.3 10 A\n")
    with pytest.raises(Exception, match="line 1.*numbers"):
        load_sites(bad)


def test_frames_from_the_compliant_file(iod_dir: Path) -> None:
    sites = load_sites(iod_dir / "sites.txt")
    observations = list(iter_iod(iod_dir / "IOD_data_compliant.txt", sites))
    assert len(observations) == 51
    rejects: list[Reject] = []
    frames = frames_from_observations(observations, sites, rejects=rejects)
    # of the stations in the file only 2701 (Ted Molczan) and 9999 (Graves) are in the site
    # list; the rest, and the station reports, come back as rejects with their file line
    used = sum(len(frame.detections) for frame in frames)
    assert used + len(rejects) == len(observations)
    assert {f.sensor_id for f in frames} == {"2701", "9999"}
    assert all(f.sensor == sites[f.sensor_id] for f in frames)
    reasons = {r.error.reason for r in rejects}
    assert "site '2007' is not in the site list" in reasons
    report = parse_iod_line("                2701 O 20081122")
    with pytest.raises(IODFormatError, match="no position"):
        frames_from_observations([report], sites)
    by_line = {r.line_no: r for r in rejects}
    assert by_line[12].error.text.startswith("12345 98 123A   2007 G")  # file line numbers
    first = frames[0]
    assert first.frame_id == "2701-20040506T012614.270"
    assert first.detections[0].det_id == "2701-20040506T012614.270:0:23794"
    assert first.time == observations[0].time
    assert [f.time for f in frames] == sorted(f.time for f in frames)
    # the same file read again gives the same ids
    again = frames_from_observations(
        list(iter_iod(iod_dir / "IOD_data_compliant.txt", sites)), sites, rejects=[]
    )
    assert [f.frame_id for f in again] == [f.frame_id for f in frames]
    with pytest.raises(IODFormatError, match="not in the site list"):
        frames_from_observations(observations, sites)


def test_lenient_file_reading(tmp_path: Path) -> None:
    path = tmp_path / "mail.txt"
    path.write_text(
        "Observations from tonight\n"
        "23794 96 010A   2701 G 20040506012614270 17 25 1100114-184298 38 I+020 10\n"
        "\n# a comment\n"
        "04047 69 062A   4172 E 20190921211049907 F Flair\n"
    )
    with pytest.raises(IODFormatError) as info:
        list(iter_iod(path))
    assert info.value.line_no == 1 and str(path) in str(info.value)
    rejects: list[Reject] = []
    out = list(iter_iod(path, rejects=rejects))
    assert [o.line_no for o in out] == [2] and [r.line_no for r in rejects] == [1, 5]
    assert rejects[1].error.field.startswith("time_uncertainty")


def test_non_utf8_bytes_reject_their_line_only(tmp_path: Path) -> None:
    path = tmp_path / "mail.txt"
    good = b"23794 96 010A   2701 G 20040506012614270 17 25 1100114-184298 38 I+020 10"
    path.write_bytes(
        b"Gr\xfc\xdfe aus K\xf6ln\n" + good + b"\n" + good.replace(b" G ", b" \xe9 ") + b"\n"
    )
    rejects: list[Reject] = []
    out = list(iter_iod(path, rejects=rejects))
    assert [o.line_no for o in out] == [2] and [r.line_no for r in rejects] == [1, 3]
    assert rejects[1].error.field.startswith("sky_condition")


def test_writer_round_trip(iod_dir: Path) -> None:
    sites = load_sites(iod_dir / "sites.txt")
    rng = np.random.default_rng(7)
    for _ in range(50):
        ra, dec = rng.uniform(0, 360), rng.uniform(-89.9, 89.9)
        when = datetime(2026, 5, 30, 21, 0, tzinfo=UTC)
        line = format_iod_line(
            norad_id=25544,
            intl_designator="98 067A",
            site="4171",
            time=when,
            ra_deg=ra,
            dec_deg=dec,
            sigma_arcsec=2.5,
            mag=float(rng.uniform(-4, 12)),
            time_uncertainty_s=0.01,
        )
        assert len(line) <= 80
        obs = parse_iod_line(line, sites)
        assert angular_separation_deg(ra, dec, obs.ra_deg, obs.dec_deg) * 3600 < 1.0
        assert obs.sigma_arcsec == 3.0 and obs.time_uncertainty_s == pytest.approx(0.01)
        assert obs.time == when
    with pytest.raises(ValueError, match="intl_designator"):
        format_iod_line(
            norad_id=1, intl_designator="1998-067A", site="4171", time=when, ra_deg=1, dec_deg=2
        )

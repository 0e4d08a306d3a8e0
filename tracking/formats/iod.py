"""IOD 80-column positional observations (the SeeSat / satobs.org format of G. D. Lewis).

Columns (1-based, as in the format description)::

    12345 98 123XYZ 2007 S 19981122112233444 56 14 1122334-112233 46 B+MMm Mm SSSsss
    1-5   NORAD number                  42-43 time uncertainty MX: M x 10^(X-8) s
    7-15  international designator      45    angle format code 1..7
    17-20 station (site) number         46    epoch code 0..6
    22    sky condition / station code  48-61 angles, AAAAAAA+BBBBBB
    24-40 UTC YYYYMMDDHHMMSSsss          63-64 position uncertainty MX: M x 10^(X-8), in the
                                              unit of the angle format (see below)
    66    optical behaviour code        67-70 magnitude sign and MMm (MM.m)
    72-73 magnitude uncertainty Mm      75-80 flash period SSSsss (SSS.sss s)

Angle formats (position-uncertainty unit in brackets)::

    1 RA/Dec HHMMSSs+DDMMSS  [arcsec]     5 Az/El DDDMMmm+DDMMmm [arcmin]
    2 RA/Dec HHMMmmm+DDMMmm  [arcmin]     6 Az/El DDDdddd+DDdddd [deg]
    3 RA/Dec HHMMmmm+DDdddd  [deg]        7 RA/Dec HHMMSSs+DDdddd [deg]
    4 Az/El  DDDMMSS+DDMMSS  [arcsec]

Epoch codes: 0 of date, 1 B1855, 2 B1875, 3 B1900, 4 B1950, 5 J2000, 6 J2050.

Numeric fields are left-aligned digits; an observer may drop trailing digits to show lower
precision (``1122   +1122``), which reads as if they were zeros. The flash period is the one
right-aligned field. Every column that is not part of a field must be blank.

Reading rules beyond the format description, learnt from the shared IOD test set:

* station numbers are four characters of digits and capital letters except ``I`` and ``O``
  (so ``TRU7`` is a station and ``270O`` a typo);
* the sky-condition column may be blank;
* sub-fields such as minutes are not range-checked on their own (the reference set has a
  declination of ``+1199`` in DDMMmm); the resulting angle is (RA below 24 h, |Dec| <= 90);
* a flash period is refused for a steady (``S``), irregular (``I``) or unstated behaviour;
* a line may stop after the date (a station status report, ``2007 O 20081122``) or after the
  time-uncertainty field; such lines are compliant but carry no position, so
  :func:`frames_from_observations` rejects them as observations.

RA/Dec of other epochs are converted to J2000/ICRS: epoch 0 ("of date") through Skyfield's
true-equator-and-equinox-of-date rotation, the fixed epochs through IAU 2006 precession of the
mean equator and the ICRS frame bias (FK4 E-terms are ignored: < 0.5 arcsec). Az/El is taken
as the geometric direction (no refraction removed) and turned into RA/Dec with the site's WGS84
position. The position uncertainty is used as the 1-sigma ``sigma_arcsec``.
"""

from __future__ import annotations

import gzip
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np

from ..constants import ARCSEC_PER_DEG
from ..errors import FormatError, Reject, check_rejects, raise_or_reject
from ..models import Frame, Sensor, parse_time
from .frames import read_text
from .grouping import Observation, group_into_frames

__all__ = [
    "ANGLE_FORMATS",
    "IODFormatError",
    "IODObservation",
    "format_iod_line",
    "frames_from_observations",
    "iter_iod",
    "load_sites",
    "parse_iod_line",
]

ArcUnit = Literal["arcsec", "arcmin", "deg"]


@dataclass(frozen=True, slots=True)
class AngleFormat:
    """How one IOD angle format code lays out its two angles."""

    code: int
    frame: Literal["radec", "azel"]
    first: str  # layout of cols 48-54: HHMMSSs, HHMMmmm, DDDMMSS, DDDMMmm or DDDdddd
    second: str  # layout of cols 56-61: DDMMSS, DDMMmm or DDdddd
    unit: ArcUnit  # unit of the position uncertainty


ANGLE_FORMATS: dict[int, AngleFormat] = {
    1: AngleFormat(1, "radec", "HHMMSSs", "DDMMSS", "arcsec"),
    2: AngleFormat(2, "radec", "HHMMmmm", "DDMMmm", "arcmin"),
    3: AngleFormat(3, "radec", "HHMMmmm", "DDdddd", "deg"),
    4: AngleFormat(4, "azel", "DDDMMSS", "DDMMSS", "arcsec"),
    5: AngleFormat(5, "azel", "DDDMMmm", "DDMMmm", "arcmin"),
    6: AngleFormat(6, "azel", "DDDdddd", "DDdddd", "deg"),
    7: AngleFormat(7, "radec", "HHMMSSs", "DDdddd", "deg"),
}

# Epoch code -> (kind, year): Besselian years for the old catalogue epochs, Julian otherwise.
EPOCHS: dict[int, tuple[str, float]] = {
    0: ("of date", 0.0),
    1: ("B", 1855.0),
    2: ("B", 1875.0),
    3: ("B", 1900.0),
    4: ("B", 1950.0),
    5: ("J", 2000.0),
    6: ("J", 2050.0),
}

SKY_CONDITIONS = frozenset("EGFPBTCO ")
BEHAVIOUR_CODES = frozenset("EFIRSXBHPADMNV")
_ARCSEC_PER = {"arcsec": 1.0, "arcmin": 60.0, "deg": ARCSEC_PER_DEG}

_STATION = re.compile(r"[0-9A-HJ-NP-Z]{4}")
_PIECE = re.compile(r"[A-Z]{1,3} *")
_LEFT_DIGITS = re.compile(r"(\d+) *")
_RIGHT_DIGITS = re.compile(r" *(\d+)")


class IODFormatError(FormatError):
    """An IOD line that does not follow the format; ``field`` names the columns at fault."""


@dataclass(frozen=True, slots=True)
class IODObservation:
    """One parsed IOD line.

    ``ra_deg``/``dec_deg`` are J2000 (ICRS) degrees, or ``None`` when the line has no angles
    or gives Az/El for a site that was not supplied (``az_deg``/``el_deg`` keep those).
    """

    norad_id: int | None
    intl_designator: str | None
    site: str
    sky_condition: str | None
    time: datetime
    time_uncertainty_s: float | None
    angle_format: int | None
    epoch_code: int | None
    ra_deg: float | None
    dec_deg: float | None
    az_deg: float | None
    el_deg: float | None
    sigma_arcsec: float | None
    behaviour: str | None
    mag: float | None
    mag_uncertainty: float | None
    flash_period_s: float | None
    line: str
    line_no: int | None = None

    @property
    def has_position(self) -> bool:
        return self.ra_deg is not None and self.dec_deg is not None


# --------------------------------------------------------------------------------------------
# Field readers. Each takes the text of its columns and raises IODFormatError naming them.


def _fail(reason: str, field: str, line: str) -> IODFormatError:
    return IODFormatError(reason, field=field, text=line)


def _blank(line: str, first: int, last: int, name: str) -> None:
    text = line[first - 1 : last]
    if text.strip():
        raise _fail(f"columns {first}-{last} must be blank, found {text!r}", name, line)


def _left_digits(text: str, field: str, line: str, *, what: str) -> str:
    """Digits starting at the first column, possibly followed by blanks only."""
    match = _LEFT_DIGITS.fullmatch(text)
    if match is None:
        raise _fail(
            f"{what} must be digits from its first column (blanks only after), found {text!r}",
            field,
            line,
        )
    return match.group(1)


def _mx(digits: str) -> float:
    """The IOD mantissa-exponent code ``MX``: ``M x 10^(X-8)``."""
    return int(digits[0]) * 10.0 ** (int(digits[1]) - 8)


def _layout_value(digits: str, layout: str) -> float:
    """Degrees (or hours for an ``HH`` layout) from digits laid out as ``layout``.

    Dropped trailing digits count as zeros (the observer's way of giving less precision).
    """
    padded = digits.ljust(len(layout), "0")
    lead = 3 if layout.startswith("DDD") else 2
    whole = int(padded[:lead])
    rest = layout[lead:]
    tail = padded[lead:]
    if rest.startswith("MMSS"):  # MM SS [s]
        value = whole + int(tail[:2]) / 60 + int(tail[2:]) / 10 ** (len(tail) - 4) / 3600
    elif rest.startswith("MM"):  # MM mmm: decimal minutes
        value = whole + int(tail) / 10 ** (len(tail) - 2) / 60
    else:  # dddd: decimal degrees
        value = whole + int(tail) / 10 ** len(tail)
    return value


def _to_mx(value: float, name: str) -> str:
    """The smallest ``MX`` code (``M x 10^(X-8)``) not below ``value``."""
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    exponent = math.floor(math.log10(value))
    mantissa = math.ceil(round(value / 10**exponent, 9))
    if mantissa == 10:
        mantissa, exponent = 1, exponent + 1
    if not -8 <= exponent <= 1:
        raise ValueError(f"{name} {value} cannot be written as MX (1e-8 to 9e1)")
    return f"{mantissa}{exponent + 8}"


def _parse_time(line: str) -> datetime:
    text = line[23:40]
    match = re.fullmatch(r"(\d{8,17}) *", text)
    if match is None:
        raise _fail(
            f"date/time must be YYYYMMDD[HHMMSSsss] from column 24 (digits, then "
            f"blanks only), found {text!r}",
            "time (cols 24-40)",
            line,
        )
    digits = match.group(1).ljust(17, "0")
    try:
        stamp = datetime(
            int(digits[0:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12]),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise _fail(
            f"no such date/time {match.group(1)!r}: {exc}", "time (cols 24-40)", line
        ) from None
    seconds = int(digits[12:14]) + int(digits[14:17]) / 1000
    if seconds >= 61:  # 60.x is a leap second
        raise _fail(f"seconds {seconds} out of range", "time (cols 24-40)", line)
    return stamp + timedelta(seconds=seconds)


def _parse_angles(line: str, fmt: AngleFormat) -> tuple[float, float]:
    """The two angles of cols 48-61 in degrees (first: RA or Az, second: Dec or El)."""
    first_text, sign, second_text = line[47:54], line[54:55], line[55:61]
    field = "angles (cols 48-61)"
    first = _left_digits(first_text, field, line, what=f"{fmt.first} (cols 48-54)")
    if sign not in ("+", "-"):
        raise _fail(f"column 55 must be the sign '+' or '-', found {sign!r}", field, line)
    second = _left_digits(second_text, field, line, what=f"{fmt.second} (cols 56-61)")
    value1 = _layout_value(first, fmt.first)
    value2 = _layout_value(second, fmt.second)
    if fmt.first.startswith("HH"):
        if value1 >= 24.0:
            raise _fail(f"right ascension {first_text.strip()} is 24 h or more", field, line)
        value1 *= 15.0
    elif value1 >= 360.0:
        raise _fail(f"azimuth {first_text.strip()} is 360 deg or more", field, line)
    if value2 > 90.0:
        name = "declination" if fmt.frame == "radec" else "elevation"
        raise _fail(f"{name} {sign}{second_text.strip()} exceeds 90 deg", field, line)
    return value1, -value2 if sign == "-" else value2


# --------------------------------------------------------------------------------------------
# Epochs and frames.


def _epoch_tt_jd(kind: str, year: float) -> float:
    if kind == "B":
        return 2415020.31352 + (year - 1900.0) * 365.242198781
    return 2451545.0 + (year - 2000.0) * 365.25


def radec_to_j2000(
    ra_deg: float, dec_deg: float, epoch_code: int, time: datetime
) -> tuple[float, float]:
    """RA/Dec referred to an IOD epoch code, converted to J2000 (ICRS) degrees."""
    kind, year = EPOCHS[epoch_code]
    if kind == "J" and year == 2000.0:
        return ra_deg, dec_deg
    from skyfield.framelib import ICRS_to_J2000
    from skyfield.precessionlib import compute_precession

    from ..sky import radec_from_unit, unit_from_radec
    from ..times import timescale

    vector = unit_from_radec(ra_deg, dec_deg)
    if kind == "of date":
        # t.M rotates GCRS into the true equator and equinox of date (bias, precession,
        # nutation); its transpose takes an of-date direction back.
        t = timescale().from_datetime(time)
        rotation = np.asarray(t.M)
    else:
        precession = compute_precession(np.array([_epoch_tt_jd(kind, year)]))[:, :, 0]
        rotation = precession @ ICRS_to_J2000
    ra, dec = radec_from_unit(rotation.T @ vector)
    return float(ra), float(dec)


def radec_from_azel(
    az_deg: float, el_deg: float, site: Sensor, time: datetime
) -> tuple[float, float]:
    """Topocentric ICRS RA/Dec (degrees) of the direction ``(az, el)`` seen from a ground site."""
    if site.lat_deg is None or site.lon_deg is None:
        raise ValueError(f"site {site.sensor_id!r} has no ground position")
    from skyfield.api import wgs84

    from ..times import timescale

    t = timescale().from_datetime(time)
    topos = wgs84.latlon(site.lat_deg, site.lon_deg, elevation_m=site.alt_m or 0.0)
    ra, dec, _ = topos.at(t).from_altaz(alt_degrees=el_deg, az_degrees=az_deg).radec()
    return float(ra.hours * 15.0), float(dec.degrees)


# --------------------------------------------------------------------------------------------
# The line parser.


def parse_iod_line(line: str, sites: Mapping[str, Sensor] | None = None) -> IODObservation:
    """Parse one IOD line, checking every column; raise :class:`IODFormatError` if it is not
    compliant.

    Az/El lines are converted to RA/Dec when ``sites`` holds the line's station; otherwise
    ``ra_deg``/``dec_deg`` stay ``None`` (the line is still compliant).
    """
    line = line.rstrip("\r\n")
    if line.lstrip().startswith("#"):
        raise _fail("comment line", "line", line)
    if not line.strip():
        raise _fail("blank line", "line", line)
    if "\t" in line:
        raise _fail("tab character (IOD is fixed columns of blanks)", "line", line)
    if len(line.rstrip()) > 80:
        raise _fail(
            f"line is {len(line.rstrip())} characters long, IOD has 80 columns", "line", line
        )
    line = line.rstrip().ljust(80)

    # Cols 1-15: object, or all blank for a station status report.
    norad_text, desig_text = line[0:5], line[6:15]
    _blank(line, 6, 6, "col 6")
    if norad_text.strip() or desig_text.strip():
        if not re.fullmatch(r"\d{5}", norad_text):
            raise _fail(
                f"NORAD number must be 5 digits in cols 1-5, found {norad_text!r}",
                "norad_id (cols 1-5)",
                line,
            )
        norad_id: int | None = int(norad_text)
        intl: str | None = None
        if desig_text.strip():
            if not (
                re.fullmatch(r"\d\d", desig_text[0:2])
                and desig_text[2] == " "
                and re.fullmatch(r"\d{3}", desig_text[3:6])
                and _PIECE.fullmatch(desig_text[6:9])
            ):
                raise _fail(
                    "international designator must be 'YY NNNPPP' (year, blank, "
                    f"launch number, 1-3 piece letters) in cols 7-15, found "
                    f"{desig_text!r}",
                    "intl_designator (cols 7-15)",
                    line,
                )
            intl = desig_text.rstrip()
    else:
        norad_id, intl = None, None
    _blank(line, 16, 16, "col 16")

    site = line[16:20]
    if not _STATION.fullmatch(site):
        raise _fail(
            "station must be 4 digits or capital letters (not I or O) in cols 17-20, "
            f"found {site!r}",
            "site (cols 17-20)",
            line,
        )
    _blank(line, 21, 21, "col 21")
    condition = line[21]
    if condition not in SKY_CONDITIONS:
        raise _fail(
            f"sky condition (col 22) must be one of E G F P B T C O or blank, found {condition!r}",
            "sky_condition (col 22)",
            line,
        )
    _blank(line, 23, 23, "col 23")
    time = _parse_time(line)
    _blank(line, 41, 41, "col 41")

    rest_blank = not line[40:].strip()
    time_uncertainty = fmt = epoch_code = None
    ra = dec = az = el = sigma = None
    behaviour = None
    mag = mag_unc = flash = None
    if not rest_blank:
        tu = line[41:43]
        if not re.fullmatch(r"\d\d", tu):
            raise _fail(
                f"time uncertainty MX must be 2 digits in cols 42-43, found {tu!r}",
                "time_uncertainty (cols 42-43)",
                line,
            )
        time_uncertainty = _mx(tu)
        _blank(line, 44, 44, "col 44")

        codes, angle_text, pos_text = line[44:46], line[47:61], line[62:64]
        _blank(line, 47, 47, "col 47")
        _blank(line, 62, 62, "col 62")
        if codes.strip() or angle_text.strip() or pos_text.strip():
            if codes[0] not in "1234567":
                raise _fail(
                    f"angle format code (col 45) must be 1-7, found {codes[0]!r}",
                    "angle_format (col 45)",
                    line,
                )
            if codes[1] not in "0123456":
                raise _fail(
                    f"epoch code (col 46) must be 0-6, found {codes[1]!r}",
                    "epoch_code (col 46)",
                    line,
                )
            fmt = int(codes[0])
            epoch_code = int(codes[1])
            angle_format = ANGLE_FORMATS[fmt]
            first, second = _parse_angles(line, angle_format)
            if pos_text.strip():
                if not re.fullmatch(r"\d\d", pos_text):
                    raise _fail(
                        "position uncertainty MX must be 2 digits in cols 63-64, "
                        f"found {pos_text!r}",
                        "position_uncertainty (cols 63-64)",
                        line,
                    )
                uncertainty = _mx(pos_text) * _ARCSEC_PER[angle_format.unit]
                sigma = uncertainty if uncertainty > 0 else None
            if angle_format.frame == "radec":
                ra, dec = radec_to_j2000(first, second, epoch_code, time)
            else:
                az, el = first, second
                if sites is not None and site in sites and not sites[site].is_space_based:
                    ra, dec = radec_from_azel(az, el, sites[site], time)
        _blank(line, 65, 65, "col 65")

        code = line[65]
        if code != " ":
            if code not in BEHAVIOUR_CODES:
                raise _fail(
                    f"optical behaviour code (col 66) must be one of "
                    f"{' '.join(sorted(BEHAVIOUR_CODES))} or blank, found {code!r}",
                    "behaviour (col 66)",
                    line,
                )
            behaviour = code
        sign, mag_text = line[66], line[67:70]
        if sign != " " or mag_text.strip():
            if sign not in "+-":
                raise _fail(
                    f"magnitude sign (col 67) must be '+' or '-', found {sign!r}",
                    "mag (cols 67-70)",
                    line,
                )
            digits = _left_digits(mag_text, "mag (cols 67-70)", line, what="magnitude MMm")
            mag = int(digits.ljust(3, "0")) / 10 * (-1 if sign == "-" else 1)
        _blank(line, 71, 71, "col 71")
        unc_text = line[71:73]
        if unc_text.strip():
            digits = _left_digits(
                unc_text, "mag_uncertainty (cols 72-73)", line, what="magnitude uncertainty Mm"
            )
            mag_unc = int(digits.ljust(2, "0")) / 10
        _blank(line, 74, 74, "col 74")
        flash_text = line[74:80]
        if flash_text.strip():
            match = _RIGHT_DIGITS.fullmatch(flash_text)
            if match is None:
                raise _fail(
                    f"flash period SSSsss must be digits ending in col 80, found {flash_text!r}",
                    "flash_period (cols 75-80)",
                    line,
                )
            if behaviour in ("S", "I", None):
                raise _fail(
                    "a flash period needs a behaviour code for a varying object, "
                    f"not {behaviour or 'blank'!r} (steady, irregular or unstated)",
                    "flash_period (cols 75-80)",
                    line,
                )
            flash = int(match.group(1)) / 1000

    return IODObservation(
        norad_id=norad_id,
        intl_designator=intl,
        site=site,
        sky_condition=None if condition == " " else condition,
        time=time,
        time_uncertainty_s=time_uncertainty,
        angle_format=fmt,
        epoch_code=epoch_code,
        ra_deg=ra,
        dec_deg=dec,
        az_deg=az,
        el_deg=el,
        sigma_arcsec=sigma,
        behaviour=behaviour,
        mag=mag,
        mag_uncertainty=mag_unc,
        flash_period_s=flash,
        line=line.rstrip(),
    )


# --------------------------------------------------------------------------------------------
# Files.


def iter_iod(
    source: str | PathLike[str] | Iterable[str],
    sites: Mapping[str, Sensor] | None = None,
    *,
    rejects: list[Reject] | None = None,
) -> Iterator[IODObservation]:
    """Observations of an IOD file (or lines), lazily, in order. Blank lines and ``#``
    comments are skipped; any other non-compliant line raises :class:`IODFormatError` with
    its line number, or, given a ``rejects`` list, is appended there when the iteration
    reaches it (observers' e-mails mix prose with data).
    """
    check_rejects(rejects)
    return _iter_iod(source, sites, rejects)


def _iter_iod(
    source: str | PathLike[str] | Iterable[str],
    sites: Mapping[str, Sensor] | None,
    rejects: list[Reject] | None,
) -> Iterator[IODObservation]:
    if isinstance(source, (str, PathLike)):
        name = str(source)
        # observers' e-mails are not always UTF-8: a bad byte becomes U+FFFD and rejects its
        # own line (no IOD column accepts it), not the file
        opener = gzip.open if Path(source).suffix == ".gz" else open
        with opener(source, "rb") as handle:
            lines: Iterable[str] = handle.read().decode("utf-8", errors="replace").splitlines()
    else:
        name, lines = getattr(source, "name", "<lines>"), source
    for line_no, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            observation = parse_iod_line(line, sites)
        except IODFormatError as error:
            raise_or_reject(error.locate(source=name, line_no=line_no), rejects)
            continue
        yield replace(observation, line_no=line_no)


def load_sites(path: str | PathLike[str]) -> dict[str, Sensor]:
    """Ground sensors from a COSPAR site list (``ID initials lat lon elev_m observer...``).

    ``sensor_id`` is the 4-character station id as written (``"0433"``); ``name`` is the
    observer. Longitude is east-positive degrees, elevation metres above the ellipsoid.
    Raises :class:`FormatError` naming the line of a malformed entry or a repeated id.
    """
    sites: dict[str, Sensor] = {}
    name = str(path)
    for line_no, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 5:
            raise FormatError(
                "a site line is 'ID initials lat lon elevation observer'",
                source=name,
                line_no=line_no,
                text=line,
            )
        site_id = parts[0]
        if not _STATION.fullmatch(site_id):
            raise FormatError(
                f"site id must be 4 digits/capitals, found {site_id!r}",
                source=name,
                line_no=line_no,
                field="ID",
                text=line,
            )
        try:
            lat, lon, elev = float(parts[2]), float(parts[3]), float(parts[4])
        except ValueError:
            raise FormatError(
                f"latitude, longitude and elevation must be numbers, found "
                f"{' '.join(parts[2:5])!r}",
                source=name,
                line_no=line_no,
                text=line,
            ) from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 360):
            raise FormatError(
                f"latitude/longitude out of range: {lat}, {lon}",
                source=name,
                line_no=line_no,
                text=line,
            )
        if site_id in sites:
            raise FormatError(
                f"site {site_id!r} is repeated", source=name, line_no=line_no, field="ID", text=line
            )
        observer = " ".join(parts[5:]) or parts[1]
        sites[site_id] = Sensor(
            sensor_id=site_id, lat_deg=lat, lon_deg=lon, alt_m=elev, name=observer
        )
    return sites


def frames_from_observations(
    observations: Iterable[IODObservation],
    sites: Mapping[str, Sensor],
    *,
    tolerance_s: float = 0.01,
    rejects: list[Reject] | None = None,
) -> list[Frame]:
    """Frames (with inline ground sensors) from parsed IOD observations.

    Observations of the same site whose times agree within ``tolerance_s`` share a frame
    (frame id ``"<site>-<YYYYmmddTHHMMSS.fff>"``, detection id ``"<frame_id>:<n>:<norad>"``).
    An observation that cannot become a detection (site not in ``sites``, or no position: a
    station report or an Az/El line of an unknown site) raises :class:`IODFormatError`, or is
    appended to ``rejects`` when a list is given (``line_no``: the observation's file line
    when :func:`iter_iod` read it, else its 1-based index in ``observations``).
    """
    check_rejects(rejects)
    usable: list[Observation] = []
    for index, obs in enumerate(observations, start=1):
        reason = None
        if obs.site not in sites:
            reason = f"site {obs.site!r} is not in the site list"
        elif not obs.has_position and obs.az_deg is not None:
            try:
                assert obs.el_deg is not None  # set together with az_deg
                ra, dec = radec_from_azel(obs.az_deg, obs.el_deg, sites[obs.site], obs.time)
            except ValueError as exc:
                reason = str(exc)
            else:
                obs = _with_radec(obs, ra, dec)
        elif not obs.has_position:
            reason = "no position (a station report or a line without angles)"
        if obs.norad_id is None and reason is None:
            reason = "no object number"
        if reason is not None:
            line_no = obs.line_no if obs.line_no is not None else index
            error = IODFormatError(
                reason,
                source="<observations>",
                line_no=line_no,
                field="site" if "site" in reason else "angles",
                text=obs.line,
            )
            raise_or_reject(error, rejects)
            continue
        assert obs.ra_deg is not None and obs.dec_deg is not None
        usable.append(
            Observation(
                sensor_id=obs.site,
                time=obs.time,
                ra_deg=obs.ra_deg,
                dec_deg=obs.dec_deg,
                sigma_arcsec=obs.sigma_arcsec,
                mag=obs.mag,
                label=None if obs.norad_id is None else f"{obs.norad_id:05d}",
            )
        )
    return group_into_frames(usable, sites, tolerance_s=tolerance_s)


def _with_radec(obs: IODObservation, ra_deg: float, dec_deg: float) -> IODObservation:
    return replace(obs, ra_deg=ra_deg, dec_deg=dec_deg)


# --------------------------------------------------------------------------------------------
# Writer.


def format_iod_line(
    *,
    norad_id: int,
    intl_designator: str,
    site: str,
    time: datetime,
    ra_deg: float,
    dec_deg: float,
    sigma_arcsec: float | None = None,
    mag: float | None = None,
    time_uncertainty_s: float = 1.0,
    sky_condition: str = "G",
) -> str:
    """An IOD line in angle format 1 (HHMMSSs+DDMMSS, J2000), time to the millisecond.

    Uncertainties are rounded up to the next ``M x 10^(X-8)`` (arcsec for the position,
    seconds for the time); a magnitude is written with behaviour code ``S``.
    """
    if not re.fullmatch(r"\d\d \d{3}[A-Z]{1,3}", intl_designator):
        raise ValueError(f"intl_designator must look like '98 067A', got {intl_designator!r}")
    if not _STATION.fullmatch(site):
        raise ValueError(f"site must be 4 digits/capitals, got {site!r}")
    stamp = parse_time(time)
    millis = round(stamp.microsecond / 1000)
    stamp = stamp.replace(microsecond=0) + timedelta(milliseconds=millis)
    when = stamp.strftime("%Y%m%d%H%M%S") + f"{stamp.microsecond // 1000:03d}"

    tenths_s = round((ra_deg % 360.0) / 15.0 * 36000)  # RA in tenths of a time second
    tenths_s %= 24 * 36000
    hh, rem = divmod(tenths_s, 36000)
    mm, rem = divmod(rem, 600)
    ss, tenth = divmod(rem, 10)
    arcsec = round(abs(dec_deg) * ARCSEC_PER_DEG)
    dd, rem = divmod(arcsec, 3600)
    dm, ds = divmod(rem, 60)
    sign = "-" if dec_deg < 0 else "+"
    angles = f"{hh:02d}{mm:02d}{ss:02d}{tenth:d}{sign}{dd:02d}{dm:02d}{ds:02d}"

    uncertainty = "  " if sigma_arcsec is None else _to_mx(sigma_arcsec, "sigma_arcsec")
    tail = ""
    if mag is not None:
        tenths = round(abs(mag) * 10)
        if tenths > 999:
            raise ValueError(f"magnitude {mag} cannot be written as MMm")
        tail = f" S{'-' if mag < 0 else '+'}{tenths:03d}"
    time_code = _to_mx(time_uncertainty_s, "time_uncertainty_s")
    line = (
        f"{norad_id:05d} {intl_designator:<9s} {site} {sky_condition} {when} {time_code} 15 "
        f"{angles} {uncertainty}{tail}"
    )
    return line.rstrip()

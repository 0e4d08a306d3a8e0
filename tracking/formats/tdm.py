"""CCSDS Tracking Data Messages (TDM, CCSDS 503.0-B), KVN form, angles only.

A TDM is a header followed by segments, each a ``META_START``/``META_STOP`` block and a
``DATA_START``/``DATA_STOP`` block::

    CCSDS_TDM_VERS = 2.0
    CREATION_DATE  = 2026-05-30T21:00:00
    ORIGINATOR     = ORBITLINK
    META_START
    TIME_SYSTEM     = UTC
    PARTICIPANT_1   = 4171
    PARTICIPANT_2   = 25544
    MODE            = SEQUENTIAL
    PATH            = 2,1
    ANGLE_TYPE      = RADEC
    REFERENCE_FRAME = EME2000
    META_STOP
    DATA_START
    ANGLE_1 = 2026-05-30T20:00:00.250 150.25000000
    ANGLE_2 = 2026-05-30T20:00:00.250 -12.50000000
    MAG     = 2026-05-30T20:00:00.250 4.5
    DATA_STOP

orbitlink reads ``ANGLE_TYPE = RADEC`` (``ANGLE_1`` right ascension, ``ANGLE_2`` declination,
degrees) in ``REFERENCE_FRAME`` EME2000, ICRF or GCRF (the same axes within milliarcseconds),
and ``AZEL`` (``ANGLE_1`` azimuth, ``ANGLE_2`` elevation) for a ground sensor. ``PARTICIPANT_1``
is the sensor, looked up in the sensors (or IOD site list) given, since a TDM carries no
station position; ``PARTICIPANT_2`` the object (its catalogue number if numeric).
``TIME_SYSTEM`` may be UTC, TAI, GPS or TT. An ``ANGLE_2`` pairs with the earlier unpaired
``ANGLE_1`` of the same time tag; ``MAG`` (TDM 2.0) with the observation of its time tag. A TDM
has no per-point angle noise, so detections take their sensor's ``sigma_arcsec``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from os import PathLike
from pathlib import Path

from ..errors import FormatError, Reject, check_rejects, raise_or_reject
from ..models import Frame, Sensor, parse_time
from .frames import open_text, read_text
from .grouping import Observation, group_into_frames

__all__ = ["TDMSegment", "parse_tdm", "read_tdm", "write_tdm"]

_SUPPORTED_FRAMES = {"EME2000", "ICRF", "GCRF"}
_TIME_SYSTEMS = {"UTC", "TAI", "GPS", "TT"}
_KEY_VALUE = re.compile(r"\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$")


@dataclass
class TDMSegment:
    """One metadata block and its angle observations (times UTC, angles degrees)."""

    metadata: dict[str, str]
    first_line: int
    angles: list[tuple[datetime, float, float]] = field(default_factory=list)
    mags: dict[datetime, float] = field(default_factory=dict)

    @property
    def sensor_id(self) -> str:
        return self.metadata["PARTICIPANT_1"]

    @property
    def target(self) -> str | None:
        return self.metadata.get("PARTICIPANT_2")


def _parse_epoch(text: str, time_system: str) -> datetime:
    """A TDM time tag (``YYYY-MM-DDThh:mm:ss[.d]`` or ``YYYY-DDDThh:mm:ss[.d]``) as UTC."""
    match = re.fullmatch(r"(\d{4})-(\d{3})T(\d\d):(\d\d):(\d\d(?:\.\d*)?)Z?", text)
    if match:
        year, doy, hh, mm, ss = match.groups()
        stamp = datetime(int(year), 1, 1, tzinfo=UTC) + timedelta(
            days=int(doy) - 1, hours=int(hh), minutes=int(mm), seconds=float(ss)
        )
    else:
        stamp = parse_time(text)
    if time_system == "UTC":
        return stamp
    from ..times import timescale

    ts = timescale()
    naive = stamp.replace(tzinfo=None)
    seconds = naive.second + naive.microsecond / 1e6
    if time_system == "TT":
        t = ts.tt(naive.year, naive.month, naive.day, naive.hour, naive.minute, seconds)
    else:
        if time_system == "GPS":  # GPS = TAI - 19 s
            seconds += 19.0
        t = ts.tai(naive.year, naive.month, naive.day, naive.hour, naive.minute, seconds)
    return t.utc_datetime()


def parse_tdm(lines: Iterable[str], source: str = "<tdm>") -> list[TDMSegment]:
    """Segments of a KVN TDM; :class:`FormatError` naming the line of any fault.

    Checks the header version, the metadata a reader needs (``TIME_SYSTEM``,
    ``PARTICIPANT_1``, ``ANGLE_TYPE``, and ``REFERENCE_FRAME`` for RADEC), block nesting, time
    tags and numbers, and that every ``ANGLE_1`` has its ``ANGLE_2``. Data keywords other than
    angles and ``MAG`` (ranges, Doppler...) are skipped.
    """
    segments: list[TDMSegment] = []
    state = "header"
    version_seen = False
    meta: dict[str, str] = {}
    segment: TDMSegment | None = None
    pending: dict[datetime, list[tuple[int, float]]] = {}

    def fail(
        reason: str, line_no: int, key: str | None = None, text: str | None = None
    ) -> FormatError:
        return FormatError(reason, source=source, line_no=line_no, field=key, text=text)

    for line_no, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("COMMENT"):
            continue
        if line in ("META_START", "META_STOP", "DATA_START", "DATA_STOP"):
            expected = {
                "META_START": ("header", "after_data"),
                "META_STOP": ("meta",),
                "DATA_START": ("after_meta",),
                "DATA_STOP": ("data",),
            }[line]
            if state not in expected:
                raise fail(f"{line} out of place", line_no, text=raw)
            if line == "META_START":
                if not version_seen:
                    raise fail("missing CCSDS_TDM_VERS header", line_no)
                state, meta = "meta", {}
            elif line == "META_STOP":
                for key in ("TIME_SYSTEM", "PARTICIPANT_1", "ANGLE_TYPE"):
                    if key not in meta:
                        raise fail(f"metadata has no {key}", line_no, key)
                if meta["TIME_SYSTEM"] not in _TIME_SYSTEMS:
                    raise fail(
                        f"TIME_SYSTEM {meta['TIME_SYSTEM']} not supported "
                        f"({', '.join(sorted(_TIME_SYSTEMS))})",
                        line_no,
                        "TIME_SYSTEM",
                    )
                if meta["ANGLE_TYPE"] not in ("RADEC", "AZEL"):
                    raise fail(
                        f"ANGLE_TYPE {meta['ANGLE_TYPE']} not supported (RADEC or AZEL)",
                        line_no,
                        "ANGLE_TYPE",
                    )
                frame = meta.get("REFERENCE_FRAME")
                if meta["ANGLE_TYPE"] == "RADEC" and frame not in _SUPPORTED_FRAMES:
                    raise fail(
                        f"REFERENCE_FRAME {frame} not supported for RADEC "
                        f"({', '.join(sorted(_SUPPORTED_FRAMES))})",
                        line_no,
                        "REFERENCE_FRAME",
                    )
                segment = TDMSegment(metadata=meta, first_line=line_no)
                state = "after_meta"
            elif line == "DATA_START":
                state, pending = "data", {}
            else:
                assert segment is not None
                leftover = [n for items in pending.values() for n, _ in items]
                if leftover:
                    raise fail("ANGLE_1 without a matching ANGLE_2", min(leftover), "ANGLE_2")
                segments.append(segment)
                state = "after_data"
            continue

        match = _KEY_VALUE.fullmatch(raw)
        if match is None:
            raise fail(f"expected 'KEYWORD = value', found {line!r}", line_no, text=raw)
        key, value = match.groups()
        if state == "header":
            if key == "CCSDS_TDM_VERS":
                if not re.fullmatch(r"[12]\.\d+", value):
                    raise fail(f"unsupported CCSDS_TDM_VERS {value}", line_no, key)
                version_seen = True
            elif not version_seen:
                raise fail("a TDM starts with CCSDS_TDM_VERS", line_no, key)
        elif state == "meta":
            meta[key] = value
        elif state == "data":
            assert segment is not None
            parts = value.split()
            if len(parts) == 3 and parts[2].startswith("["):  # optional [deg] unit
                parts = parts[:2]
            if len(parts) != 2:
                raise fail(f"{key} needs 'time value', found {value!r}", line_no, key, raw)
            try:
                when = _parse_epoch(parts[0], segment.metadata["TIME_SYSTEM"])
            except ValueError:
                raise fail(f"bad time tag {parts[0]!r}", line_no, key, raw) from None
            if key not in ("ANGLE_1", "ANGLE_2", "MAG"):
                continue  # other tracking data types are not angles
            try:
                number = float(parts[1])
            except ValueError:
                raise fail(f"{key} value {parts[1]!r} is not a number", line_no, key, raw) from None
            if key == "MAG":
                segment.mags[when] = number
            elif key == "ANGLE_1":
                pending.setdefault(when, []).append((line_no, number))
            else:
                waiting = pending.get(when)
                if not waiting:
                    raise fail(
                        "ANGLE_2 without an earlier ANGLE_1 of the same time", line_no, key, raw
                    )
                _, angle_1 = waiting.pop(0)
                if not waiting:
                    del pending[when]
                _check_angles(
                    segment.metadata["ANGLE_TYPE"],
                    angle_1,
                    number,
                    partial(fail, line_no=line_no, key=key, text=raw),
                )
                segment.angles.append((when, angle_1 % 360.0, number))
        else:
            raise fail(f"{key} outside META/DATA blocks", line_no, key, raw)
    if state in ("meta", "data", "after_meta"):
        raise FormatError(f"file ends inside a segment (state {state})", source=source)
    if not version_seen:
        raise FormatError("not a TDM: no CCSDS_TDM_VERS", source=source)
    return segments


def _check_angles(angle_type: str, angle_1: float, angle_2: float, fail) -> None:
    name_1, name_2 = (
        ("right ascension", "declination") if angle_type == "RADEC" else ("azimuth", "elevation")
    )
    if not -360.0 < angle_1 <= 360.0:
        raise fail(f"{name_1} {angle_1} out of range")
    if not -90.0 <= angle_2 <= 90.0:
        raise fail(f"{name_2} {angle_2} out of range")


def read_tdm(
    source: str | PathLike[str] | Iterable[str],
    sensors: Mapping[str, Sensor],
    *,
    tolerance_s: float = 0.01,
    rejects: list[Reject] | None = None,
) -> list[Frame]:
    """Frames from a KVN TDM; sensors come from ``sensors`` (keyed by ``PARTICIPANT_1``).

    A segment whose sensor is unknown (or AZEL for a space-based sensor) raises
    :class:`FormatError`, or with a ``rejects`` list is reported there (``line_no``: the
    segment's ``META_STOP`` line) and skipped. A fault of the message's structure (see
    :func:`parse_tdm`) raises either way.
    """
    check_rejects(rejects)
    if isinstance(source, (str, PathLike)):
        name = str(source)
        segments = parse_tdm(read_text(source).splitlines(), name)
    else:
        name = getattr(source, "name", "<tdm>")
        segments = parse_tdm(source, name)
    observations: list[Observation] = []
    used: dict[str, Sensor] = {}
    for segment in segments:
        sensor = sensors.get(segment.sensor_id)
        reason = None
        if sensor is None:
            reason = f"sensor {segment.sensor_id!r} (PARTICIPANT_1) is not in the sensors given"
        elif segment.metadata["ANGLE_TYPE"] == "AZEL" and sensor.is_space_based:
            reason = f"AZEL angles from space-based sensor {segment.sensor_id!r}"
        if reason is not None:
            error = FormatError(
                reason, source=name, line_no=segment.first_line, field="PARTICIPANT_1"
            )
            raise_or_reject(error, rejects)
            continue
        assert sensor is not None
        used[sensor.sensor_id] = sensor
        target = segment.target
        for when, angle_1, angle_2 in segment.angles:
            if segment.metadata["ANGLE_TYPE"] == "AZEL":
                from .iod import radec_from_azel

                ra, dec = radec_from_azel(angle_1, angle_2, sensor, when)
            else:
                ra, dec = angle_1, angle_2
            observations.append(
                Observation(
                    sensor_id=sensor.sensor_id,
                    time=when,
                    ra_deg=ra,
                    dec_deg=dec,
                    sigma_arcsec=sensor.sigma_arcsec,
                    mag=segment.mags.get(when),
                    label=target,
                )
            )
    return group_into_frames(observations, used, tolerance_s=tolerance_s)


def write_tdm(
    frames: Iterable[Frame],
    path: str | PathLike[str],
    *,
    originator: str = "ORBITLINK",
    creation_date: datetime | None = None,
) -> int:
    """Write frames as a KVN TDM 2.0, one RADEC/EME2000 segment per (sensor, object).

    The object of a detection is the label at the end of its id (``"<frame>:<n>:<label>"``,
    as the readers make them) or ``UNKNOWN``. Returns the number of angle pairs written.
    """
    groups: dict[tuple[str, str], list[tuple[datetime, float, float, float | None]]] = {}
    for frame in frames:
        for det in frame.detections:
            parts = (det.det_id or "").split(":")
            target = parts[2] if len(parts) == 3 and parts[2] else "UNKNOWN"
            groups.setdefault((frame.sensor_id, target), []).append(
                (frame.time, det.ra_deg, det.dec_deg, det.mag)
            )
    created = parse_time(creation_date or datetime.now(UTC))
    out = [
        "CCSDS_TDM_VERS = 2.0",
        f"CREATION_DATE = {_epoch(created)}",
        f"ORIGINATOR = {originator}",
        "",
    ]
    count = 0
    for (sensor_id, target), rows in groups.items():
        rows.sort(key=lambda row: row[0])
        out += [
            "META_START",
            "TIME_SYSTEM = UTC",
            f"PARTICIPANT_1 = {sensor_id}",
            f"PARTICIPANT_2 = {target}",
            "MODE = SEQUENTIAL",
            "PATH = 2,1",
            "ANGLE_TYPE = RADEC",
            "REFERENCE_FRAME = EME2000",
            f"START_TIME = {_epoch(rows[0][0])}",
            f"STOP_TIME = {_epoch(rows[-1][0])}",
            "META_STOP",
            "",
            "DATA_START",
        ]
        for when, ra, dec, mag in rows:
            stamp = _epoch(when)
            out.append(f"ANGLE_1 = {stamp} {ra:.9f}")
            out.append(f"ANGLE_2 = {stamp} {dec:.9f}")
            if mag is not None:
                out.append(f"MAG = {stamp} {mag:.3f}")
            count += 1
        out += ["DATA_STOP", ""]
    target_path = Path(path)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    with open_text(target_path, "w") as handle:
        handle.write("\n".join(out))
    return count


def _epoch(value: datetime) -> str:
    return parse_time(value).strftime("%Y-%m-%dT%H:%M:%S.%f")

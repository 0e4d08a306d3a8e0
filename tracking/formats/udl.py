"""UDL (Unified Data Library) EOObservation records: electro-optical angles observations.

A file is a JSON array of EOObservation objects, or JSON Lines of them. The fields read (UDL
names, units as the UDL schema defines them):

============================  ==================================================================
``obTime``                    ISO 8601 UTC observation time (required)
``ra``, ``declination``       line-of-sight angles, degrees, in ``referenceFrame`` (required)
``referenceFrame``            ``J2000`` (default when null) or ``GCRF``; ``ITRF``/``TEME`` refused
``raUnc``, ``declinationUnc`` 1-sigma uncertainties, degrees (``raUnc`` of the RA coordinate)
``idSensor``                  sensor id (``origSensorId`` is used when it is missing)
``senlat``, ``senlon``        WGS84 sensor position, degrees; ``senalt`` in kilometres
``senx``, ``seny``, ``senz``  position of a space-based sensor, km (needs a known sensor)
``satNo``, ``origObjectId``   what the provider says the object is; ``uct`` true if unknown
``mag``                       brightness, magnitudes
``expDuration``               exposure, seconds
============================  ==================================================================

Observations are grouped into frames by sensor and ``obTime`` (see
:mod:`tracking.formats.grouping`). A ground sensor is built inline from ``senlat``/``senlon``/
``senalt`` (km converted to m). orbitlink describes a space-based sensor by its TLE, which an
EOObservation does not carry: such observations need the sensor in ``sensors`` (a sensors
file), else they are rejected with that reason.

The isotropic ``sigma_arcsec`` of a detection is the RMS of the two on-sky axes:
``sqrt(((raUnc cos Dec)^2 + declinationUnc^2) / 2)`` in arcseconds; one given axis is used alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from ..constants import ARCSEC_PER_DEG
from ..errors import (
    FormatError,
    Reject,
    check_rejects,
    describe_validation_error,
    raise_or_reject,
)
from ..models import Frame, Sensor, format_time, parse_time
from .frames import open_text, read_text
from .grouping import Observation, group_into_frames

__all__ = [
    "EOObservation",
    "frames_from_eo_observations",
    "frames_to_eo_observations",
    "iter_eo_observations",
    "read_udl",
    "write_udl",
]

_KM_TO_M = 1000.0


class EOObservation(BaseModel):
    """The EOObservation fields orbitlink uses, validated (UDL camelCase names)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)

    ob_time: datetime = Field(alias="obTime")
    ra: float = Field(ge=0.0, le=360.0)
    declination: float = Field(ge=-90.0, le=90.0)
    ra_unc: float | None = Field(default=None, gt=0.0, alias="raUnc")
    declination_unc: float | None = Field(default=None, gt=0.0, alias="declinationUnc")
    reference_frame: Literal["J2000", "GCRF", "ITRF", "TEME"] | None = Field(
        default=None, alias="referenceFrame"
    )
    id_sensor: str | None = Field(
        default=None,
        min_length=1,
        validation_alias=AliasChoices("idSensor", "origSensorId"),
        serialization_alias="idSensor",
    )
    senlat: float | None = Field(default=None, ge=-90.0, le=90.0)
    senlon: float | None = Field(default=None, ge=-180.0, le=360.0)
    senalt: float | None = Field(default=None, ge=-0.5)
    senx: float | None = None
    seny: float | None = None
    senz: float | None = None
    sat_no: int | None = Field(default=None, ge=0, alias="satNo")
    orig_object_id: str | None = Field(default=None, alias="origObjectId")
    id_on_orbit: str | None = Field(default=None, alias="idOnOrbit")
    uct: bool | None = None
    mag: float | None = None
    exp_duration: float | None = Field(default=None, ge=0.0, alias="expDuration")

    @field_validator("ob_time", mode="before")
    @classmethod
    def _time(cls, value: object) -> datetime:
        return parse_time(value)  # type: ignore[arg-type]

    @field_validator("id_sensor", "orig_object_id", "id_on_orbit", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @property
    def sigma_arcsec(self) -> float | None:
        """RMS on-sky 1-sigma uncertainty of the two axes, arcseconds."""
        axes = []
        if self.ra_unc is not None:
            axes.append(self.ra_unc * math.cos(math.radians(self.declination)))
        if self.declination_unc is not None:
            axes.append(self.declination_unc)
        axes = [a for a in axes if a > 0]
        if not axes:
            return None
        return math.sqrt(sum(a * a for a in axes) / len(axes)) * ARCSEC_PER_DEG

    @property
    def label(self) -> str | None:
        """The provider's object id: the catalogue number unless flagged uncorrelated."""
        if self.uct:
            return None
        if self.sat_no is not None:
            return str(self.sat_no)
        return self.orig_object_id


def _records(source: str | PathLike[str] | Iterable[str]) -> Iterator[tuple[int, str, Any]]:
    """``(record_no, source_name, decoded)`` for a JSON array file or JSON Lines."""
    if isinstance(source, (str, PathLike)):
        name = str(source)
        text = read_text(source)
    else:
        name = getattr(source, "name", "<lines>")
        text = "\n".join(source)
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FormatError(
                f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", source=name
            ) from None
        for index, item in enumerate(data, start=1):
            yield index, name, item
        return
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield line_no, name, json.loads(line)
        except json.JSONDecodeError as exc:
            yield (
                line_no,
                name,
                FormatError(
                    f"not valid JSON: {exc.msg} at column {exc.colno}",
                    source=name,
                    line_no=line_no,
                    text=line,
                ),
            )


def iter_eo_observations(
    source: str | PathLike[str] | Iterable[str], *, rejects: list[Reject] | None = None
) -> Iterator[EOObservation]:
    """Validated EOObservations of a file or lines, lazily, in order.

    A bad record raises :class:`FormatError` naming its number (array index from 1, or line
    number for JSON Lines) and field, or, given a ``rejects`` list, is appended there when
    the iteration reaches it. A file that is not JSON at all raises either way.
    """
    check_rejects(rejects)
    return (record for _, record in _numbered_observations(source, rejects))


def _numbered_observations(
    source: str | PathLike[str] | Iterable[str], rejects: list[Reject] | None
) -> Iterator[tuple[int, EOObservation]]:
    """``(record_no, observation)`` of the good records; bad ones go to ``rejects``."""
    for record_no, name, item in _records(source):
        try:
            yield record_no, _observation(item, name, record_no)
        except FormatError as error:
            raise_or_reject(error, rejects)


def _observation(item: Any, name: str, record_no: int) -> EOObservation:
    if isinstance(item, FormatError):
        raise item
    if not isinstance(item, dict):
        raise FormatError(
            f"expected an EOObservation object, got {type(item).__name__}",
            source=name,
            line_no=record_no,
            text=json.dumps(item),
        )
    try:
        record = EOObservation.model_validate(item)
    except ValidationError as exc:
        field, reason = describe_validation_error(exc)
        raise FormatError(
            f"invalid EOObservation: {reason}",
            source=name,
            line_no=record_no,
            field=field,
            text=json.dumps(item),
        ) from None
    if record.reference_frame in ("ITRF", "TEME"):
        raise FormatError(
            f"referenceFrame {record.reference_frame} angles are not "
            "supported (J2000 or GCRF only)",
            source=name,
            line_no=record_no,
            field="referenceFrame",
            text=json.dumps(item),
        )
    return record


def _sensor_for(
    record: EOObservation, sensors: Mapping[str, Sensor] | None
) -> tuple[Sensor | None, str | None]:
    """The sensor of an observation, or ``(None, reason)``."""
    sensor_id = record.id_sensor
    if sensor_id is None:
        return None, "no idSensor (or origSensorId)"
    known = None if sensors is None else sensors.get(sensor_id)
    if known is not None and known.is_space_based:
        return known, None  # its TLE places it; senlat/senlon would be the sub-point
    if record.senlat is not None or record.senlon is not None:
        if record.senlat is None or record.senlon is None:
            return None, "senlat and senlon must be given together"
        alt_m = (record.senalt or 0.0) * _KM_TO_M
        if record.senalt is not None and record.senalt > 20.0:
            return None, (
                f"senalt {record.senalt} km is not a ground site; a space-based "
                "sensor needs its TLE in the sensors file"
            )
        position = {"lat_deg": record.senlat, "lon_deg": record.senlon, "alt_m": alt_m}
        # the record's position wins; a sensors file still contributes FoV, sigma and name
        inline = (
            known.model_copy(update=position)
            if known is not None
            else Sensor(sensor_id=sensor_id, **position)
        )
        return inline, None
    if known is not None:
        return known, None
    if record.senx is not None:
        return None, (
            f"space-based sensor {sensor_id!r} (senx/seny/senz) is not in the "
            "sensors file; orbitlink needs its TLE"
        )
    return None, f"sensor {sensor_id!r} has no senlat/senlon and is not in the sensors file"


def frames_from_eo_observations(
    records: Iterable[EOObservation],
    sensors: Mapping[str, Sensor] | None = None,
    *,
    tolerance_s: float = 0.01,
    rejects: list[Reject] | None = None,
) -> list[Frame]:
    """Frames from EOObservations, grouped by sensor and ``obTime``.

    A record whose sensor cannot be established raises :class:`FormatError`, or is appended
    to ``rejects`` (``line_no`` = its 1-based position in ``records``) when a list is given.
    The sensors of the frames are inline; the first record of a sensor defines it.
    """
    check_rejects(rejects)
    resolved: dict[str, Sensor] = {}
    observations: list[Observation] = []
    exposures: dict[str, float] = {}
    for index, record in enumerate(records, start=1):
        sensor, reason = _sensor_for(record, sensors)
        if sensor is not None:
            resolved.setdefault(sensor.sensor_id, sensor)
        if reason is not None:
            error = FormatError(
                reason,
                source="<EOObservations>",
                line_no=index,
                field="idSensor",
                text=record.model_dump_json(by_alias=True, exclude_none=True),
            )
            raise_or_reject(error, rejects)
            continue
        assert sensor is not None
        if record.exp_duration is not None:
            exposures.setdefault(sensor.sensor_id, record.exp_duration)
        observations.append(
            Observation(
                sensor_id=sensor.sensor_id,
                time=record.ob_time,
                ra_deg=record.ra % 360.0,
                dec_deg=record.declination,
                sigma_arcsec=record.sigma_arcsec,
                mag=record.mag,
                label=record.label,
            )
        )
    frames = group_into_frames(observations, resolved, tolerance_s=tolerance_s)
    for frame in frames:
        frame.exposure_s = exposures.get(frame.sensor_id, 0.0)
    return frames


def read_udl(
    source: str | PathLike[str] | Iterable[str],
    sensors: Mapping[str, Sensor] | None = None,
    *,
    tolerance_s: float = 0.01,
    rejects: list[Reject] | None = None,
) -> list[Frame]:
    """Frames of a UDL EOObservation file; strict unless ``rejects`` collects bad records.

    A record whose sensor cannot be established is refused under its own number in the file,
    after every record has been read.
    """
    check_rejects(rejects)
    numbered = list(_numbered_observations(source, rejects))
    unplaced: list[Reject] = []
    frames = frames_from_eo_observations(
        [record for _, record in numbered], sensors, tolerance_s=tolerance_s, rejects=unplaced
    )
    name = str(source) if isinstance(source, (str, PathLike)) else getattr(source, "name", None)
    for reject in unplaced:  # its line_no is the rank among the good records
        number = numbered[reject.line_no - 1][0]
        raise_or_reject(reject.error.locate(source=name, line_no=number), rejects)
    return frames


def frames_to_eo_observations(
    frames: Iterable[Frame],
    sensors: Mapping[str, Sensor] | None = None,
    *,
    source: str = "orbitlink",
    data_mode: str = "SIMULATED",
    classification: str = "U",
) -> list[dict[str, Any]]:
    """EOObservation dicts (one per detection) for frames, the inverse of :func:`read_udl`.

    Ground sensors (inline, or from ``sensors``) are written as ``senlat``/``senlon``/
    ``senalt`` (km); a space-based sensor only as ``idSensor``. ``sigma_arcsec`` becomes
    ``declinationUnc`` and the matching ``raUnc`` of the RA coordinate.
    """
    out: list[dict[str, Any]] = []
    for frame in frames:
        sensor = frame.sensor or (sensors or {}).get(frame.sensor_id)
        for det in frame.detections:
            record: dict[str, Any] = {
                "classificationMarking": classification,
                "dataMode": data_mode,
                "source": source,
                "obTime": format_time(frame.time),
                "idSensor": frame.sensor_id,
                "ra": det.ra_deg,
                "declination": det.dec_deg,
                "referenceFrame": "J2000",
                "uct": False,
            }
            if det.sigma_arcsec is not None:
                sigma_deg = det.sigma_arcsec / ARCSEC_PER_DEG
                cos_dec = max(math.cos(math.radians(det.dec_deg)), 1e-9)
                record["raUnc"] = sigma_deg / cos_dec
                record["declinationUnc"] = sigma_deg
            if det.mag is not None:
                record["mag"] = det.mag
            if frame.exposure_s:
                record["expDuration"] = frame.exposure_s
            if sensor is not None and not sensor.is_space_based:
                record["senlat"] = sensor.lat_deg
                record["senlon"] = sensor.lon_deg
                record["senalt"] = (sensor.alt_m or 0.0) / _KM_TO_M
            label = (det.det_id or "").split(":")
            if len(label) == 3 and label[2].isdigit():
                record["satNo"] = int(label[2])
            else:
                del record["uct"]
            out.append(record)
    return out


def write_udl(
    frames: Iterable[Frame],
    path: str | PathLike[str],
    sensors: Mapping[str, Sensor] | None = None,
    *,
    lines: bool = False,
    **kwargs: Any,
) -> int:
    """Write frames as a UDL EOObservation JSON array (or JSON Lines); return how many."""
    records = frames_to_eo_observations(frames, sensors, **kwargs)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open_text(target, "w") as handle:
        if lines:
            for record in records:
                handle.write(json.dumps(record) + "\n")
        else:
            json.dump(records, handle, indent=1)
            handle.write("\n")
    return len(records)

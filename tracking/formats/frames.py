"""orbitlink's native files: JSON Lines of records, and the sensors file.

* Frames JSONL: one :class:`~tracking.models.Frame` per line.
* Records JSONL: one :class:`~tracking.models.TrackUpdate` or
  :class:`~tracking.models.Association` (or any model of :mod:`tracking.models`) per line.
* Sensors file: a JSON array of :class:`~tracking.models.Sensor` objects.

Every reader takes a path (``.gz`` is read transparently) or any iterable of text lines (an
open file, a list of strings, Kafka message values...). Blank lines are skipped. A bad line
raises :class:`~orbitlink.tracking.errors.FormatError` naming the source, the line number and
the field; given a ``rejects`` list, the records readers append a
:class:`~orbitlink.tracking.errors.Reject` there instead and carry on, which is what a replay
wants (the stream side sends rejects to a dead-letter topic). The sensors file is a definition,
not a stream of records: it is always strict.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import IO, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import (
    FormatError,
    Reject,
    check_rejects,
    describe_validation_error,
    raise_or_reject,
)
from ..models import Frame, Sensor

__all__ = [
    "iter_frames_jsonl",
    "iter_records",
    "parse_record",
    "read_records",
    "read_sensors",
    "write_frames_jsonl",
    "write_records",
    "write_sensors",
]

M = TypeVar("M", bound=BaseModel)
PathOrLines = str | PathLike[str] | Iterable[str]
PathOrFile = str | PathLike[str] | IO[str]


def _is_path(source: object) -> bool:
    return isinstance(source, (str, PathLike))


def open_text(path: str | PathLike[str], mode: str = "r") -> IO[str]:
    """Open a text file, through gzip when its name ends in ``.gz``."""
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8", newline="\n" if "w" in mode or "a" in mode else None)


def read_text(path: str | PathLike[str]) -> str:
    """A whole UTF-8 text file (``.gz`` too); :class:`FormatError` naming the line of a byte
    that is not UTF-8."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_no = data.count(b"\n", 0, exc.start) + 1
        raise FormatError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=str(path), line_no=line_no
        ) from None


@contextmanager
def _lines(source: PathOrLines) -> Iterator[tuple[str, Iterable[str | bytes]]]:
    """``(name, lines)`` of a path (bytes lines, decoded one by one by the caller, so a bad
    byte rejects its line only) or of an iterable of lines."""
    if _is_path(source):
        path = Path(source)  # type: ignore[arg-type]
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            yield str(source), handle
    else:
        yield getattr(source, "name", "<lines>"), source  # type: ignore[misc]


def parse_record(
    text: str | bytes, model: type[M], *, source: str | None = None, line_no: int | None = None
) -> M:
    """One JSON object as ``model``; a :class:`FormatError` naming the field if it is not."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(
                f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                source=source,
                line_no=line_no,
                text=text.decode("utf-8", errors="replace"),
            ) from None
    try:
        # pydantic parses the JSON itself: about twice as fast as json.loads + validate
        return model.model_validate_json(text)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if errors and errors[0]["type"] == "json_invalid":
            raise FormatError(
                f"not valid JSON: {errors[0]['msg'].removeprefix('Invalid JSON: ')}",
                source=source,
                line_no=line_no,
                text=text,
            ) from None
        if errors and errors[0]["type"] == "model_type" and not errors[0]["loc"]:
            kind = type(json.loads(text)).__name__
            raise FormatError(
                f"expected a JSON object for a {model.__name__}, got {kind}",
                source=source,
                line_no=line_no,
                text=text,
            ) from None
        field, reason = describe_validation_error(exc)
        raise FormatError(
            f"invalid {model.__name__}: {reason}",
            source=source,
            line_no=line_no,
            field=field,
            text=text,
        ) from None


def iter_records(
    source: PathOrLines, model: type[M], *, rejects: list[Reject] | None = None
) -> Iterator[M]:
    """Records of a JSON Lines file (or lines), one ``model`` per non-blank line, lazily, in
    order.

    Strict unless ``rejects`` is a list: then a bad line is appended there as
    ``Reject(line_no, error)`` when the iteration reaches it, and the error keeps the raw line
    in ``error.text``.
    """
    check_rejects(rejects)
    return _iter_records(source, model, rejects)


def _iter_records(source: PathOrLines, model: type[M], rejects: list[Reject] | None) -> Iterator[M]:
    with _lines(source) as (name, lines):
        for line_no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            text = line.rstrip(b"\r\n" if isinstance(line, bytes) else "\r\n")
            try:
                record = parse_record(text, model, source=name, line_no=line_no)
            except FormatError as error:
                raise_or_reject(error, rejects)
                continue
            yield record


def read_records(
    path: PathOrLines, model: type[M], *, rejects: list[Reject] | None = None
) -> list[M]:
    """All records of a JSON Lines file as ``model`` (see :func:`iter_records`)."""
    return list(iter_records(path, model, rejects=rejects))


@contextmanager
def _writer(target: PathOrFile, append: bool) -> Iterator[IO[str]]:
    if _is_path(target):
        path = Path(target)  # type: ignore[arg-type]
        path.parent.mkdir(parents=True, exist_ok=True)
        with open_text(path, "a" if append else "w") as handle:
            yield handle
    else:
        yield target  # type: ignore[misc]


def write_records(records: Iterable[BaseModel], path: PathOrFile, *, append: bool = False) -> int:
    """Write records as JSON Lines (the wire form, ``model_dump_json``); return how many.

    ``path`` may also be an open text file. ``append=True`` adds to an existing file.
    """
    count = 0
    with _writer(path, append) as handle:
        for record in records:
            handle.write(record.model_dump_json())
            handle.write("\n")
            count += 1
    return count


def iter_frames_jsonl(
    path_or_lines: PathOrLines, *, rejects: list[Reject] | None = None
) -> Iterator[Frame]:
    """Frames of a frames JSONL file, lazily, in file order (see :func:`iter_records`)."""
    return iter_records(path_or_lines, Frame, rejects=rejects)


def write_frames_jsonl(frames: Iterable[Frame], path: PathOrFile, *, append: bool = False) -> int:
    """Write frames one per line, inline sensors included; return how many."""
    return write_records(frames, path, append=append)


def read_sensors(path: str | PathLike[str] | IO[str]) -> dict[str, Sensor]:
    """Sensors of a sensors file (a JSON array of Sensor objects), keyed by ``sensor_id``.

    Raises :class:`FormatError` naming the array index (as ``line_no``: 1-based record number)
    and field of a bad sensor, or a repeated ``sensor_id``.
    """
    if _is_path(path):
        name = str(path)
        text = read_text(path)  # type: ignore[arg-type]
    else:
        name = getattr(path, "name", "<sensors>")
        text = path.read()  # type: ignore[union-attr]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", source=name
        ) from None
    if not isinstance(data, list):
        raise FormatError(
            f"a sensors file is a JSON array of Sensor objects, got {type(data).__name__}",
            source=name,
        )
    sensors: dict[str, Sensor] = {}
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise FormatError(f"sensor {index} is not a JSON object", source=name, line_no=index)
        try:
            sensor = Sensor.model_validate(item)
        except ValidationError as exc:
            field, reason = describe_validation_error(exc)
            label = item.get("sensor_id", f"#{index}")
            raise FormatError(
                f"invalid sensor {label!r}: {reason}", source=name, line_no=index, field=field
            ) from None
        if sensor.sensor_id in sensors:
            raise FormatError(
                f"sensor_id {sensor.sensor_id!r} is repeated",
                source=name,
                line_no=index,
                field="sensor_id",
            )
        sensors[sensor.sensor_id] = sensor
    return sensors


def write_sensors(sensors: Mapping[str, Sensor] | Iterable[Sensor], path: PathOrFile) -> int:
    """Write a sensors file (pretty JSON array, unset fields left out); return how many.

    Raises ``ValueError`` on a repeated ``sensor_id`` rather than writing a file
    :func:`read_sensors` would refuse.
    """
    items = list(sensors.values()) if isinstance(sensors, Mapping) else list(sensors)
    seen: set[str] = set()
    for sensor in items:
        if sensor.sensor_id in seen:
            raise ValueError(f"sensor_id {sensor.sensor_id!r} is repeated")
        seen.add(sensor.sensor_id)
    payload = [sensor.model_dump(mode="json", exclude_none=True) for sensor in items]
    text = json.dumps(payload, indent=2) + "\n"
    if _is_path(path):
        target = Path(path)  # type: ignore[arg-type]
        target.parent.mkdir(parents=True, exist_ok=True)
        with open_text(target, "w") as handle:
            handle.write(text)
    else:
        path.write(text)  # type: ignore[union-attr]
    return len(items)

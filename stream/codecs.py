"""Bytes on the wire <-> orbitlink records.

Input messages are read as raw bytes and validated here, so that a malformed message becomes a
:class:`~orbitlink.tracking.errors.FormatError` whose ``reason`` (one line, starting with
``empty message``, ``not JSON``, ``schema violation`` or ``impossible value``) is what the
dead-letter record says, instead of an exception inside a Faust agent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from orbitlink.tracking.catalogue import ElementSet, element_set_from_record
from orbitlink.tracking.errors import CatalogueError, FormatError, describe_validation_error
from orbitlink.tracking.models import Frame, Sensor

__all__ = [
    "decode_element_set",
    "decode_frame",
    "decode_sensor",
    "encode_element_set",
    "encode_record",
]


def _load_json_object(raw: bytes | None, what: str) -> dict[str, Any]:
    if not raw:  # null, and zero bytes, which no JSON document is
        raise FormatError(f"empty message: a {what} message needs a JSON object value")
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise FormatError(f"not JSON: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise FormatError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        # Valid JSON perhaps, but nested beyond what the parser (and any record) goes to.
        raise FormatError(
            "not JSON the engine accepts: arrays or objects nested too deeply to parse"
        ) from None
    if not isinstance(obj, dict):
        raise FormatError(
            f"schema violation: a {what} must be a JSON object, got {type(obj).__name__}"
        )
    return obj


#: pydantic error types meaning "well-formed, but the number cannot be": out of range, NaN.
_IMPOSSIBLE = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "finite_number",
    "tle_invalid",
}


def _validate(model: type[BaseModel], obj: dict[str, Any], what: str) -> Any:
    # Strict: a number must be a JSON number (not true, not "12.5"), a string a JSON string.
    try:
        return model.model_validate(obj, strict=True)
    except ValidationError as exc:
        kinds = {item["type"] for item in exc.errors()}
        label = "impossible value" if kinds <= _IMPOSSIBLE else "schema violation"
        field, detail = describe_validation_error(exc)
        raise FormatError(f"{label} in {what}: {detail}", field=field) from None


def decode_frame(raw: bytes | None) -> Frame:
    """A :class:`Frame` from a message value, or :class:`FormatError`. ``detections`` is
    required on the wire (an empty frame says ``"detections": []``): a frame that lost its
    detections must not pass for one that saw nothing."""
    if raw:
        # The common case in one pass: pydantic parses and checks the JSON together, without
        # the Python objects of every detection in between (half the cost of a dense frame).
        # Whatever it refuses takes the path below, which accepts what it always did and says
        # what is wrong with the rest in the engine's own words.
        try:
            frame = Frame.model_validate_json(raw, strict=True)
        except ValidationError:
            pass
        else:
            if "detections" in frame.model_fields_set:
                return frame
    obj = _load_json_object(raw, "frame")
    if "detections" not in obj:
        raise FormatError(
            "schema violation in frame: detections: Field required "
            '(a frame without detections has "detections": [])',
            field="detections",
        )
    return _validate(Frame, obj, "frame")


def decode_sensor(raw: bytes | None) -> Sensor:
    """A :class:`Sensor` from a message value, or :class:`FormatError`."""
    return _validate(Sensor, _load_json_object(raw, "sensor"), "sensor")


def decode_element_set(raw: bytes | None, *, where: str = "catalogue") -> ElementSet:
    """A checked element set from ``{"name", "line1", "line2"[, "norad_id", "epoch"]}`` JSON
    (the form :meth:`Catalogue.element_set` writes), or :class:`FormatError`.

    The lines are checked as any TLE (length, checksums, matching numbers, sgp4 accepts the
    elements, an epoch not in the future); ``norad_id`` and ``epoch``, when given, must agree
    with line 1 (:func:`~orbitlink.tracking.catalogue.element_set_from_record`).
    """
    obj = _load_json_object(raw, "element set")
    for field in ("line1", "line2"):
        if not isinstance(obj.get(field), str):
            raise FormatError(
                f"schema violation in element set: {field} must be a string", field=field
            )
    try:
        return element_set_from_record(obj, where=where)
    except CatalogueError as error:
        raise FormatError(f"impossible value in element set: {error}", field=error.field) from None


def encode_element_set(record: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """``(key, value)`` of a catalogue-topic message from a :meth:`Catalogue.element_set`
    record (key = NORAD id)."""
    return str(record["norad_id"]).encode(), json.dumps(dict(record)).encode()


def encode_record(record: BaseModel) -> bytes:
    """Compact JSON of a pydantic record (TrackUpdate, Association, Frame, Sensor)."""
    return record.model_dump_json().encode()

"""Bytes on the wire <-> orbitlink records, and the dead-letter record for what cannot be read.

Input messages are read as raw bytes and validated here, so that a malformed message becomes a
:class:`Rejected` with a human-readable reason instead of an exception inside a Faust agent.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from orbitlink.tracking.catalogue import (
    CatalogueError,
    ElementSet,
    element_set_from_tle,
)
from orbitlink.tracking.models import Frame, Sensor

__all__ = [
    "Rejected",
    "dead_letter",
    "decode_element_set",
    "decode_frame",
    "decode_sensor",
    "describe_validation_error",
    "encode_element_set",
    "encode_record",
    "text_or_base64",
]


class Rejected(ValueError):
    """An input message that cannot be used; ``reason`` says why, for the dead-letter topic."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def describe_validation_error(error: ValidationError, *, limit: int = 5) -> str:
    """``schema violation: detections.0.ra_deg: Input should be less than 360 (got 400.0)``."""
    parts = []
    for item in error.errors()[:limit]:
        where = ".".join(str(p) for p in item.get("loc", ())) or "<record>"
        detail = f"{where}: {item.get('msg', 'invalid')}"
        if "input" in item and not isinstance(item["input"], (dict, list)):
            detail += f" (got {item['input']!r})"
        parts.append(detail)
    more = error.error_count() - len(parts)
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)


def _load_json_object(raw: bytes | None, what: str) -> dict[str, Any]:
    if raw is None:
        raise Rejected(f"empty message: a {what} message needs a JSON object value")
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise Rejected(f"not JSON: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise Rejected(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(obj, dict):
        raise Rejected(
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
}


def _validate(model: type[BaseModel], obj: dict[str, Any], what: str) -> Any:
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        kinds = {item["type"] for item in exc.errors()}
        label = "impossible value" if kinds <= _IMPOSSIBLE else "schema violation"
        raise Rejected(f"{label} in {what}: {describe_validation_error(exc)}") from None


def decode_frame(raw: bytes | None) -> Frame:
    """A :class:`Frame` from a message value, or :class:`Rejected`."""
    return _validate(Frame, _load_json_object(raw, "frame"), "frame")


def decode_sensor(raw: bytes | None) -> Sensor:
    """A :class:`Sensor` from a message value, or :class:`Rejected`."""
    return _validate(Sensor, _load_json_object(raw, "sensor"), "sensor")


def decode_element_set(raw: bytes | None, *, where: str = "catalogue") -> ElementSet:
    """A checked element set from ``{"name", "line1", "line2"[, "norad_id"]}`` JSON (the
    form :meth:`Catalogue.element_set` writes), or :class:`Rejected`.

    The lines are checked as any TLE (length, checksums, matching numbers, sgp4 accepts the
    elements); ``norad_id``, when given, must agree with line 1.
    """
    obj = _load_json_object(raw, "element set")
    for field in ("line1", "line2"):
        if not isinstance(obj.get(field), str):
            raise Rejected(f"schema violation in element set: {field} must be a string")
    name = obj.get("name")
    if name is not None and not isinstance(name, str):
        raise Rejected("schema violation in element set: name must be a string")
    try:
        element_set = element_set_from_tle(name or "", obj["line1"], obj["line2"], where=where)
    except CatalogueError as error:
        raise Rejected(f"impossible value in element set: {error}") from None
    given = obj.get("norad_id")
    if given is not None and given != element_set.norad_id:
        raise Rejected(
            f"impossible value in element set: norad_id {given!r} differs from "
            f"line 1 ({element_set.norad_id})"
        )
    return element_set


def encode_element_set(record: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """``(key, value)`` of a catalogue-topic message from a :meth:`Catalogue.element_set`
    record (key = NORAD id)."""
    return str(record["norad_id"]).encode(), json.dumps(dict(record)).encode()


def encode_record(record: BaseModel) -> bytes:
    """Compact JSON of a pydantic record (TrackUpdate, Association, Frame, Sensor)."""
    return record.model_dump_json().encode()


def text_or_base64(raw: bytes | None) -> dict[str, str | None]:
    """``{"value_text": ...}`` when the bytes are UTF-8, else ``{"value_base64": ...}``."""
    if raw is None:
        return {"value_text": None}
    try:
        return {"value_text": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"value_base64": base64.b64encode(raw).decode("ascii")}


def dead_letter(
    *, raw: bytes | None, key: bytes | None, topic: str, partition: int, offset: int, reason: str
) -> bytes:
    """The JSON value of a dead-letter record (see docs/topics.md)."""
    record: dict[str, Any] = {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": None if key is None else key.decode("utf-8", errors="backslashreplace"),
        "reason": reason,
        **text_or_base64(raw),
        "rejected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return json.dumps(record).encode()

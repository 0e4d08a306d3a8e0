"""orbitlink's error vocabulary: what bad input raises, everywhere.

* :class:`FormatError`: a record that does not follow its format, naming the source, the line
  (or record index) and the field. Every reader raises it (the catalogue's
  :class:`~orbitlink.tracking.catalogue.CatalogueError` is one), and the stream service
  dead-letters a message with its reason.
* :class:`Reject`: the lenient mode. A reader given a ``rejects`` list appends a
  ``Reject(line_no, error)`` for each bad record instead of raising, and carries on.
* :class:`UnknownSensorError`: a frame of a sensor nobody defined.
* :func:`describe_validation_error`: pydantic's validation error as one readable line.

A reader never crashes on bad input and never drops a record silently.
"""

from __future__ import annotations

from typing import NamedTuple

from pydantic import ValidationError

__all__ = ["FormatError", "Reject", "UnknownSensorError", "describe_validation_error"]


class FormatError(ValueError):
    """A record that does not follow its format.

    Attributes
    ----------
    source:
        File name (or ``"<lines>"`` for in-memory input).
    line_no:
        1-based line number, or the 1-based record index for JSON arrays; ``None`` when the
        whole file is at fault.
    field:
        Dotted path of the offending field (``"detections.2.ra_deg"``), or ``None``.
    reason:
        What is wrong, in words.
    text:
        The raw offending line or record, for a dead-letter queue.
    """

    def __init__(
        self,
        reason: str,
        *,
        source: str | None = None,
        line_no: int | None = None,
        field: str | None = None,
        text: str | None = None,
    ) -> None:
        self.reason = reason
        self.source = source
        self.line_no = line_no
        self.field = field
        self.text = text
        super().__init__(self._message())

    def locate(self, *, source: str | None = None, line_no: int | None = None) -> FormatError:
        """Fill in where the error is (a parser of one line does not know) and return it."""
        if source is not None:
            self.source = source
        if line_no is not None:
            self.line_no = line_no
        self.args = (self._message(),)
        return self

    def _message(self) -> str:
        where = self.source or "<input>"
        if self.line_no is not None:
            where += f", line {self.line_no}"
        if self.field:
            where += f", field {self.field!r}"
        return f"{where}: {self.reason}"


class Reject(NamedTuple):
    """A record a lenient reader refused: its line (or record) number and the error."""

    line_no: int
    error: FormatError


def describe_validation_error(error: ValidationError, *, limit: int = 5) -> tuple[str | None, str]:
    """``(field, reason)`` from pydantic's error: the first failing field as a dotted path and
    the first ``limit`` failures as ``path: message (got value)`` joined by ``'; '``."""
    parts: list[str] = []
    first_field: str | None = None
    items = error.errors(include_url=False)
    for item in items[:limit]:
        path = ".".join(str(p) for p in item.get("loc", ()))
        if first_field is None and path:
            first_field = path
        message = item.get("msg", "invalid")
        value = item.get("input")
        if (
            "input" in item
            and item.get("type") != "missing"
            and not isinstance(value, (dict, list))
        ):
            shown = repr(value)
            message += f" (got {shown[:57] + '...' if len(shown) > 60 else shown})"
        parts.append(f"{path}: {message}" if path else message)
    if len(items) > limit:
        parts.append(f"... and {len(items) - limit} more")
    return first_field, "; ".join(parts)


class UnknownSensorError(ValueError):
    """A frame names a sensor the pipeline does not know and carries no inline definition."""

    def __init__(self, sensor_id: str) -> None:
        super().__init__(
            f"sensor_id: unknown sensor {sensor_id!r} and the frame has no "
            f"inline 'sensor' definition"
        )
        self.sensor_id = sensor_id

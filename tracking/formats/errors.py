"""The errors every reader in :mod:`tracking.formats` raises.

A reader never crashes on bad input and never drops a record silently: it raises
:class:`FormatError` naming the source, the line (or record index) and the field, or, in lenient
mode, hands the same error back as a :class:`Reject` so a replay can report it and go on.
"""

from __future__ import annotations

from typing import NamedTuple

from pydantic import ValidationError

__all__ = ["FormatError", "Reject", "describe_validation_error"]


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

    def __init__(self, reason: str, *, source: str | None = None, line_no: int | None = None,
                 field: str | None = None, text: str | None = None) -> None:
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


def describe_validation_error(error: ValidationError) -> tuple[str | None, str]:
    """``(field, reason)`` from pydantic's error: the first failing field as a dotted path and
    every failure as ``path: message`` joined by ``'; '``."""
    parts: list[str] = []
    first_field: str | None = None
    for item in error.errors(include_url=False):
        path = ".".join(str(p) for p in item.get("loc", ()))
        if first_field is None and path:
            first_field = path
        message = item.get("msg", "invalid")
        if "input" in item and item.get("type") not in ("missing",):
            value = repr(item["input"])
            if len(value) > 60:
                value = value[:57] + "..."
            message += f" (got {value})"
        parts.append(f"{path}: {message}" if path else message)
    return first_field, "; ".join(parts)

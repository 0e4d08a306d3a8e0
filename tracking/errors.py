"""orbitlink's error vocabulary: what bad input raises, everywhere.

* :class:`FormatError`: a record that does not follow its format, naming the source, the line
  (or record index) and the field. Every reader raises it, and the stream service dead-letters
  a message with its reason. :class:`CatalogueError` is the one of TLE and OMM element sets.
* :class:`Reject`: the lenient mode. Every reader takes ``rejects: list[Reject] | None =
  None``: ``None`` is strict (the first bad record raises), a list is lenient (each bad record
  is appended as ``Reject(line_no, error)`` and reading goes on). :func:`raise_or_reject` is
  that rule, for readers to call.
* :class:`UnknownSensorError`: a frame of a sensor nobody defined.
* :func:`describe_validation_error`: pydantic's validation error as one readable line.

A reader never crashes on bad input and never drops a record silently.
"""

from __future__ import annotations

from typing import NamedTuple

from pydantic import ValidationError

__all__ = [
    "CatalogueError",
    "FormatError",
    "Reject",
    "UnknownSensorError",
    "check_rejects",
    "describe_validation_error",
    "raise_or_reject",
]


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


class CatalogueError(FormatError):
    """A TLE or OMM element set that cannot be used.

    Its message names the place the catalogue's way: ``source:line`` for TLE text,
    ``source[index]`` for the ``index``-th record (from 0) of a list, or ``source`` alone.
    ``line_no`` is the line, or for a record ``index + 1`` (the 1-based record number of
    :class:`FormatError`).
    """

    def __init__(
        self,
        reason: str,
        *,
        source: str | None = None,
        line_no: int | None = None,
        index: int | None = None,
        field: str | None = None,
        text: str | None = None,
    ) -> None:
        self.index = index
        if index is not None and line_no is None:
            line_no = index + 1
        super().__init__(reason, source=source, line_no=line_no, field=field, text=text)

    def _message(self) -> str:
        where = self.source or "catalogue"
        if self.index is not None:
            where += f"[{self.index}]"
        elif self.line_no is not None:
            where += f":{self.line_no}"
        return f"{where}: {self.reason}"


class Reject(NamedTuple):
    """A record a lenient reader refused: its line (or record) number and the error."""

    line_no: int
    error: FormatError


def check_rejects(rejects: object) -> None:
    """Refuse a ``rejects`` argument that is neither ``None`` (strict) nor a list (lenient),
    such as the ``True`` of a retired ``lenient=True``, before any record is read."""
    if rejects is not None and not isinstance(rejects, list):
        raise TypeError(
            f"rejects must be a list (lenient) or None (strict), not {type(rejects).__name__}"
        )


def raise_or_reject(
    error: FormatError, rejects: list[Reject] | None, line_no: int | None = None
) -> None:
    """The lenient mode in one place: raise ``error`` when ``rejects`` is ``None``, else
    append ``Reject(line_no, error)`` (``line_no`` defaults to the error's own)."""
    if rejects is None:
        raise error
    number = error.line_no if line_no is None else line_no
    if number is None:
        raise ValueError(f"a rejected record needs a line or record number: {error}")
    rejects.append(Reject(number, error))


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

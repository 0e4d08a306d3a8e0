"""The element-set catalogue: TLE and OMM parsing, loading, in-place updates.

A :class:`Catalogue` holds one element set per NORAD catalogue number, sorted by that number,
as parallel arrays (ids, names, epochs, the two TLE lines, the ``sgp4`` ``Satrec``) plus a
lazily built :class:`sgp4.api.SatrecArray` that propagates every object in one C++ call (see
:mod:`tracking.predict`).

Accepted inputs:

* TLE text in 2-line or 3-line form. A name line may start with ``"0 "`` (Space-Track 3LE).
  Blank lines are ignored. Alpha-5 catalogue numbers (``A0001`` = 100001) are decoded. Each
  line's modulo-10 checksum is verified.
* OMM (CCSDS Orbit Mean-Elements Message) as CelesTrak serves it: JSON (a list of objects),
  CSV or XML, converted with ``sgp4.omm``.
* Records, the message form of the catalogue topic: ``{"name", "line1", "line2"}`` dicts
  (optionally with ``norad_id`` and ``epoch``, as :meth:`Catalogue.element_set` writes them)
  or OMM dicts.

Bad input raises :class:`~orbitlink.tracking.errors.CatalogueError` (a
:class:`~orbitlink.tracking.errors.FormatError`) naming the source and line (or record). Like
every reader, the loaders are strict unless given a ``rejects`` list: then each bad element set
is appended there as a :class:`~orbitlink.tracking.errors.Reject` and loading goes on. A fault
of a whole file (not JSON, not OMM XML, a folder without element sets) raises either way.

When two element sets share a NORAD id, the one with the newest epoch wins, both at loading and
in :meth:`Catalogue.update`. On a compacted Kafka topic the element set is keyed by NORAD id.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sgp4 import omm
from sgp4.alpha5 import from_alpha5
from sgp4.api import SGP4_ERRORS, Satrec, SatrecArray
from sgp4.exporter import export_tle

from .constants import SECONDS_PER_DAY, UNIX_EPOCH_JD
from .errors import CatalogueError, Reject, check_rejects, raise_or_reject
from .models import format_time, parse_time
from .times import datetime_from_unix

__all__ = [
    "Catalogue",
    "CatalogueError",
    "ElementSet",
    "MAX_EPOCH_AHEAD_DAYS",
    "TLE_SUFFIXES",
    "OMM_SUFFIXES",
    "element_set_from_omm",
    "element_set_from_record",
    "element_set_from_tle",
    "parse_norad_id",
    "parse_tle_text",
    "tle_checksum",
]

TLE_SUFFIXES = (".tle", ".txt", ".3le", ".2le")
OMM_SUFFIXES = (".json", ".csv", ".xml")

#: How far past the present an element set's epoch may lie. An epoch is the time of the
#: observations the elements were fitted to, so it cannot be much later than the moment the
#: set is read; operators' predicted sets reach a day or two ahead. A later epoch is a fault,
#: and a harmful one: the newest epoch wins, so a set dated decades ahead would lock its object
#: against every genuine update.
MAX_EPOCH_AHEAD_DAYS = 3.0

#: How far a record's ``epoch`` field may differ from the epoch in its line 1: the TLE's own
#: resolution (1e-8 day, 0.9 ms) plus rounding to the microsecond.
_EPOCH_FIELD_TOLERANCE_S = 2e-3


class ElementSet(NamedTuple):
    """One checked element set, a row of a :class:`Catalogue` (``Catalogue(sets)`` builds one,
    keeping the newest epoch per NORAD id)."""

    norad_id: int
    name: str
    line1: str
    line2: str
    satrec: Satrec
    epoch_unix_s: float


# --------------------------------------------------------------------------------- parsing


def tle_checksum(line: str) -> int:
    """Modulo-10 checksum of a TLE line's first 68 columns (digits count, ``-`` counts 1)."""
    total = 0
    for char in line[:68]:
        if char.isdigit():
            total += int(char)
        elif char == "-":
            total += 1
    return total % 10


def parse_norad_id(field: str) -> int:
    """NORAD catalogue number from the 5-column TLE field, decoding Alpha-5 (``A0001``)."""
    text = field.strip()
    if not text:
        raise ValueError("empty catalogue number")
    if text[0].isalpha():
        if len(text) != 5 or not text[1:].isdigit() or text[0].upper() in "IO":
            raise ValueError(f"bad Alpha-5 catalogue number {field!r}")
        return int(from_alpha5(text.upper()))
    if not text.isdigit():
        raise ValueError(f"bad catalogue number {field!r}")
    return int(text)


def _epoch_unix_s(satrec: Satrec) -> float:
    return (satrec.jdsatepoch - UNIX_EPOCH_JD + satrec.jdsatepochF) * SECONDS_PER_DAY


def _epoch_problem(epoch_unix_s: float, now_s: float | None) -> str | None:
    """Why an epoch cannot be right (later than ``MAX_EPOCH_AHEAD_DAYS`` after ``now_s``, the
    wall clock by default), or None."""
    now_s = time.time() if now_s is None else now_s
    ahead_days = (epoch_unix_s - now_s) / SECONDS_PER_DAY
    if ahead_days <= MAX_EPOCH_AHEAD_DAYS:
        return None
    return (
        f"epoch {format_time(datetime_from_unix(epoch_unix_s))} is {ahead_days:,.1f} days in "
        f"the future (at most {MAX_EPOCH_AHEAD_DAYS:g} allowed): an element set cannot be "
        f"fitted to observations not yet made"
    )


def _check_tle_line(line: str, number: int, fail: Callable[[str], CatalogueError]) -> None:
    if len(line) != 69:
        raise fail(f"TLE line {number} has {len(line)} characters, expected 69: {line!r}")
    if not line[68].isdigit():
        raise fail(f"TLE line {number} has no checksum digit in column 69")
    expected = tle_checksum(line)
    if int(line[68]) != expected:
        raise fail(f"TLE line {number} checksum is {line[68]}, computed {expected}")


def element_set_from_tle(
    name: str,
    line1: str,
    line2: str,
    where: str = "TLE",
    *,
    line_no: int | None = None,
    line2_no: int | None = None,
    index: int | None = None,
    now_s: float | None = None,
) -> ElementSet:
    """Check and initialise one TLE.

    A :class:`CatalogueError` names ``where`` (a file, a topic, a sensor...) and, when given,
    the record ``index`` or the line: ``line_no`` (of line 1, and of the set as a whole) or
    ``line2_no`` for a problem confined to line 2 (``line_no`` when not given). An epoch more
    than :data:`MAX_EPOCH_AHEAD_DAYS` after ``now_s`` (the wall clock by default) is refused.
    """
    line2_no = line_no if line2_no is None else line2_no
    line1, line2 = line1.rstrip(), line2.rstrip()

    def fail(
        reason: str, number: int | None = line_no, text: str = f"{line1}\n{line2}"
    ) -> CatalogueError:
        return CatalogueError(reason, source=where, line_no=number, index=index, text=text)

    if not line1.startswith("1 "):
        raise fail(f"TLE line 1 must start with '1 ': {line1!r}", text=line1)
    if not line2.startswith("2 "):
        raise fail(f"TLE line 2 must start with '2 ': {line2!r}", line2_no, line2)
    _check_tle_line(line1, 1, partial(fail, number=line_no, text=line1))
    _check_tle_line(line2, 2, partial(fail, number=line2_no, text=line2))
    if line1[2:7] != line2[2:7]:
        raise fail(
            f"catalogue numbers differ between line 1 ({line1[2:7]!r}) and line 2 ({line2[2:7]!r})"
        )
    try:
        norad_id = parse_norad_id(line1[2:7])
        satrec = Satrec.twoline2rv(line1, line2)
    except (ValueError, IndexError) as exc:
        raise fail(f"cannot parse TLE: {exc}") from None
    if satrec.error:
        raise fail(f"sgp4 rejects the elements: {SGP4_ERRORS[satrec.error]}")
    epoch_unix_s = _epoch_unix_s(satrec)
    problem = _epoch_problem(epoch_unix_s, now_s)
    if problem is not None:
        raise fail(problem, text=line1)
    return ElementSet(norad_id, name.strip(), line1, line2, satrec, epoch_unix_s)


def element_set_from_omm(
    fields: Mapping[str, Any],
    where: str = "OMM",
    *,
    index: int | None = None,
    now_s: float | None = None,
) -> ElementSet:
    """Initialise one OMM record (CelesTrak JSON/CSV/XML field names); a
    :class:`CatalogueError` names ``where`` and the record ``index`` if given. The epoch is
    bounded as in :func:`element_set_from_tle`."""

    def fail(reason: str, field: str | None = None) -> CatalogueError:
        return CatalogueError(reason, source=where, index=index, field=field)

    satrec = Satrec()
    # sgp4.omm reads strings or numbers; JSON nulls and missing optional fields get defaults.
    values = {key: value for key, value in fields.items() if value is not None}
    values.setdefault("CLASSIFICATION_TYPE", "U")
    values.setdefault("OBJECT_ID", "")
    values.setdefault("EPHEMERIS_TYPE", 0)
    values.setdefault("ELEMENT_SET_NO", 999)
    values.setdefault("REV_AT_EPOCH", 0)
    values.setdefault("MEAN_MOTION_DDOT", 0.0)
    epoch = values.get("EPOCH")
    if isinstance(epoch, str):
        # sgp4.omm wants exactly "YYYY-MM-DDTHH:MM:SS.ffffff": no zone, at most 6 decimals.
        whole, _, fraction = epoch.strip().rstrip("Zz").partition(".")
        values["EPOCH"] = f"{whole}.{(fraction + '000000')[:6]}"
    try:
        omm.initialize(satrec, values)
    except KeyError as exc:
        raise fail(f"OMM record lacks field {exc.args[0]}", str(exc.args[0])) from None
    except (TypeError, ValueError) as exc:
        raise fail(f"bad OMM value: {exc}") from None
    if satrec.error:
        raise fail(f"sgp4 rejects the elements: {SGP4_ERRORS[satrec.error]}")
    norad_id = int(values["NORAD_CAT_ID"])
    line1, line2 = export_tle(satrec)
    name = str(values.get("OBJECT_NAME", "")).strip()
    epoch_unix_s = _epoch_unix_s(satrec)
    problem = _epoch_problem(epoch_unix_s, now_s)
    if problem is not None:
        raise fail(problem, "EPOCH")
    return ElementSet(norad_id, name, line1, line2, satrec, epoch_unix_s)


def parse_tle_text(
    text: str, *, source: str = "<text>", rejects: list[Reject] | None = None
) -> list[ElementSet]:
    """The element sets of 2-line and 3-line TLE text, in text order.

    Strict by default: the first problem raises :class:`CatalogueError` naming
    ``source:line``. With a ``rejects`` list each bad element set is appended there as a
    :class:`Reject` (its line number) and parsing goes on.
    """
    check_rejects(rejects)
    sets: list[ElementSet] = []

    def fail(reason: str, line_no: int) -> None:
        raise_or_reject(CatalogueError(reason, source=source, line_no=line_no), rejects)

    rows = [(n, line.rstrip()) for n, line in enumerate(text.splitlines(), start=1)]
    rows = [(n, line) for n, line in rows if line.strip()]
    name: tuple[int, str] | None = None
    i = 0
    while i < len(rows):
        number, line = rows[i]
        if line.startswith("1 "):
            if i + 1 >= len(rows) or not rows[i + 1][1].startswith("2 "):
                fail("TLE line 1 is not followed by a line 2", number)
                name, i = None, i + 1
                continue
            try:
                sets.append(
                    element_set_from_tle(
                        name[1] if name else "",
                        line,
                        rows[i + 1][1],
                        source,
                        line_no=number,
                        line2_no=rows[i + 1][0],
                    )
                )
            except CatalogueError as exc:
                raise_or_reject(exc, rejects)
            name, i = None, i + 2
            continue
        if line.startswith("2 "):
            fail("TLE line 2 without a line 1 before it", number)
        elif name is not None:
            fail(f"name line {name[1]!r} is not followed by TLE lines", name[0])
            name = (number, _strip_name(line))
        else:
            name = (number, _strip_name(line))
        i += 1
    if name is not None:
        fail(f"name line {name[1]!r} is not followed by TLE lines", name[0])
    return sets


def _strip_name(line: str) -> str:
    text = line.strip()
    if text == "0" or text.startswith("0 "):
        return text[1:].strip()
    return text


def _records_to_sets(
    records: Iterable[Mapping[str, Any]], source: str, rejects: list[Reject] | None
) -> list[ElementSet]:
    sets: list[ElementSet] = []
    for i, record in enumerate(records):
        try:
            sets.append(_record_to_set(record, source, i))
        except CatalogueError as exc:
            raise_or_reject(exc, rejects)
    return sets


def _record_to_set(record: Mapping[str, Any], source: str, index: int | None) -> ElementSet:
    def fail(reason: str, field: str | None = None) -> CatalogueError:
        return CatalogueError(reason, source=source, index=index, field=field)

    if not isinstance(record, Mapping):
        raise fail(f"a record must be an object, not {type(record).__name__}")
    if "line1" in record or "line2" in record:
        if "line1" not in record or "line2" not in record:
            raise fail("a TLE record needs both line1 and line2")
        for field in ("line1", "line2"):
            if not isinstance(record[field], str):
                raise fail(f"{field} must be a string", field)
        name = record.get("name")
        if name is not None and not isinstance(name, str):
            raise fail("name must be a string", "name")
        entry = element_set_from_tle(
            name or "", record["line1"], record["line2"], source, index=index
        )
        given = record.get("norad_id")
        if given is not None:
            if isinstance(given, bool) or not isinstance(given, (int, str)):
                raise fail(f"norad_id {given!r} is not a catalogue number", "norad_id")
            try:
                differs = int(given) != entry.norad_id
            except ValueError:
                raise fail(f"norad_id {given!r} is not a catalogue number", "norad_id") from None
            if differs:
                raise fail(f"norad_id {given} differs from the TLE's {entry.norad_id}", "norad_id")
        epoch = record.get("epoch")
        if epoch is not None:
            try:
                epoch_s = parse_time(epoch).timestamp()
            except ValueError:
                raise fail(f"epoch {epoch!r} is not an ISO-8601 time", "epoch") from None
            if abs(epoch_s - entry.epoch_unix_s) > _EPOCH_FIELD_TOLERANCE_S:
                lines_epoch = format_time(datetime_from_unix(entry.epoch_unix_s))
                raise fail(f"epoch {epoch} differs from line 1's {lines_epoch}", "epoch")
        return entry
    if "MEAN_MOTION" in record or "NORAD_CAT_ID" in record:
        return element_set_from_omm(record, source, index=index)
    raise fail(
        "neither a TLE record (name, line1, line2) nor "
        "an OMM record (NORAD_CAT_ID, EPOCH, MEAN_MOTION, ...)"
    )


def element_set_from_record(record: Mapping[str, Any], where: str = "record") -> ElementSet:
    """One element set from its record form: ``{"name", "line1", "line2"}`` with optional
    ``norad_id`` and ``epoch`` (what :meth:`Catalogue.element_set` writes, the value of a
    catalogue-topic message), or an OMM record. ``norad_id`` and ``epoch``, when given, must
    agree with the lines; the epoch is bounded as in :func:`element_set_from_tle`. Raises
    :class:`CatalogueError` naming ``where``."""
    return _record_to_set(record, where, None)


def _read_file(path: Path, rejects: list[Reject] | None) -> list[ElementSet]:
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8", errors="replace")
    source = str(path)
    # a fault of the file as a whole (not JSON, not XML) raises even in lenient mode
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CatalogueError(
                f"not valid JSON: {exc.msg}", source=source, line_no=exc.lineno
            ) from None
        if isinstance(data, Mapping):
            data = [data]
        if not isinstance(data, list):
            raise CatalogueError("expected a JSON list of OMM or TLE records", source=source)
        return _records_to_sets(data, source, rejects)
    if suffix == ".csv":
        return _records_to_sets(list(csv.DictReader(io.StringIO(text))), source, rejects)
    if suffix == ".xml":
        try:
            records = list(omm.parse_xml(io.StringIO(text)))
        except Exception as exc:  # ElementTree raises ParseError or AttributeError on odd XML
            raise CatalogueError(f"not an OMM XML document: {exc}", source=source) from None
        return _records_to_sets(records, source, rejects)
    return parse_tle_text(text, source=source, rejects=rejects)


# ------------------------------------------------------------------------------- catalogue


class Catalogue:
    """Element sets, one per NORAD id, sorted by id, with a vectorised propagator.

    Attributes (parallel, in catalogue order):

    * ``norad_ids``: int64 array.
    * ``names``: list of str ("" when the source had no name line).
    * ``epoch_unix_s``: float64 array, element-set epochs (UTC).
    * ``lines``: list of ``(line1, line2)``; OMM sets are exported to TLE form.
    * ``satrecs``: list of :class:`sgp4.api.Satrec`.
    * ``satrec_array``: :class:`sgp4.api.SatrecArray` over all of them, built on first use.
    * ``revision``: increases each time :meth:`update` changes the catalogue. Indices are only
      valid for one revision, since an update may insert objects.
    """

    def __init__(self, element_sets: Iterable[ElementSet] = ()) -> None:
        self.revision = 0
        self._set_rows(_newest_per_id(list(element_sets)))

    def _set_rows(self, rows: list[ElementSet]) -> None:
        rows.sort(key=lambda row: row.norad_id)
        self._rows = rows
        self.norad_ids: NDArray[np.int64] = np.array([r.norad_id for r in rows], dtype=np.int64)
        self.epoch_unix_s: NDArray[np.float64] = np.array(
            [r.epoch_unix_s for r in rows], dtype=np.float64
        )
        self.names: list[str] = [r.name for r in rows]
        self.lines: list[tuple[str, str]] = [(r.line1, r.line2) for r in rows]
        self.satrecs: list[Satrec] = [r.satrec for r in rows]
        self._satrec_array: SatrecArray | None = None
        self._epochs: list[datetime] | None = None

    # ---- constructors

    @classmethod
    def from_tle_text(
        cls, text: str, *, source: str = "<text>", rejects: list[Reject] | None = None
    ) -> Catalogue:
        """Parse 2-line/3-line TLE text (see :func:`parse_tle_text`)."""
        return cls(parse_tle_text(text, source=source, rejects=rejects))

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, Any]],
        *,
        source: str = "records",
        rejects: list[Reject] | None = None,
    ) -> Catalogue:
        """Build from ``{"name", "line1", "line2"}`` dicts and/or OMM dicts.

        Strict unless ``rejects`` is a list, which collects each bad record (its ``line_no``
        is the 1-based record number; the message names ``source[index]`` from 0).
        """
        check_rejects(rejects)
        return cls(_records_to_sets(records, source, rejects))

    @classmethod
    def from_path(cls, path: str | Path, *, rejects: list[Reject] | None = None) -> Catalogue:
        """Load a TLE/OMM file, or every such file in a folder (not recursive).

        TLE files end in ``.tle``, ``.txt``, ``.3le`` or ``.2le``; OMM files in ``.json``,
        ``.csv`` or ``.xml``. Other files in a folder are ignored. Where files repeat a NORAD
        id, the newest epoch is kept. Strict unless ``rejects`` is a list, which collects each
        bad element set (its error names the file).
        """
        check_rejects(rejects)
        root = Path(path)
        if root.is_dir():
            files = sorted(
                p
                for p in root.iterdir()
                if p.is_file() and p.suffix.lower() in TLE_SUFFIXES + OMM_SUFFIXES
            )
            if not files:
                raise CatalogueError(
                    f"no TLE ({', '.join(TLE_SUFFIXES)}) or OMM ({', '.join(OMM_SUFFIXES)}) files",
                    source=str(root),
                )
        elif root.is_file():
            files = [root]
        else:
            raise FileNotFoundError(f"catalogue path not found: {root}")
        sets: list[ElementSet] = []
        for file in files:
            sets.extend(_read_file(file, rejects))
        return cls(sets)

    # ---- queries

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"Catalogue({len(self)} element sets, revision {self.revision})"

    @property
    def satrec_array(self) -> SatrecArray:
        """All ``satrecs`` as one :class:`SatrecArray` (cached until the next update)."""
        if self._satrec_array is None:
            self._satrec_array = SatrecArray(self.satrecs)
        return self._satrec_array

    @property
    def epochs(self) -> list[datetime]:
        """``epoch_unix_s`` as UTC datetimes to the microsecond (built on first use)."""
        if self._epochs is None:
            self._epochs = [datetime_from_unix(t) for t in self.epoch_unix_s.tolist()]
        return self._epochs

    def index_of(self, norad_ids: ArrayLike) -> NDArray[np.intp]:
        """Catalogue indices of the given NORAD ids, -1 where an id is absent."""
        ids = np.asarray(norad_ids, dtype=np.int64)
        if len(self) == 0:
            return np.full(ids.shape, -1, dtype=np.intp)
        pos = np.searchsorted(self.norad_ids, ids)
        clipped = np.minimum(pos, len(self) - 1)
        return np.where(self.norad_ids[clipped] == ids, clipped, -1).astype(np.intp)

    def subset(self, index_or_mask: ArrayLike) -> Catalogue:
        """A new catalogue with the selected element sets (boolean mask or indices)."""
        selector = np.asarray(index_or_mask)
        if selector.dtype == bool:
            if selector.shape != (len(self),):
                raise ValueError(f"mask has shape {selector.shape}, expected ({len(self)},)")
            selector = np.flatnonzero(selector)
        elif selector.size and not np.issubdtype(selector.dtype, np.integer):
            raise ValueError("subset takes a boolean mask or integer indices")
        selector = selector.astype(np.intp).ravel()
        if selector.size and (selector.min() < -len(self) or selector.max() >= len(self)):
            raise IndexError(f"index out of range for a catalogue of {len(self)}")
        result = Catalogue()
        result._set_rows([self._rows[i] for i in selector.tolist()])
        return result

    def snapshot(self) -> Catalogue:
        """The element sets this catalogue holds now, as a catalogue that later :meth:`update`
        calls leave as it is (another thread may read it meanwhile). It costs nothing: an
        update builds new rows and arrays, it never changes those it replaces."""
        frozen = Catalogue.__new__(Catalogue)
        frozen.__dict__.update(self.__dict__)
        return frozen

    def without(self, norad_ids: ArrayLike) -> Catalogue:
        """A new catalogue without the given NORAD ids (absent ids are ignored)."""
        return self.subset(~np.isin(self.norad_ids, np.asarray(norad_ids, dtype=np.int64)))

    def element_set(self, i: int) -> dict[str, Any]:
        """Record form of element set ``i``: ``name``, ``line1``, ``line2``, ``norad_id``,
        ``epoch`` (ISO-8601 UTC). :meth:`from_records` reads it back."""
        row = self._rows[i]
        return {
            "name": row.name,
            "line1": row.line1,
            "line2": row.line2,
            "norad_id": row.norad_id,
            "epoch": format_time(datetime_from_unix(row.epoch_unix_s)),
        }

    def to_tle_text(self) -> str:
        """3-line TLE text (name lines prefixed ``"0 "``, which keeps empty names parseable)."""
        return "".join(f"0 {row.name}\n{row.line1}\n{row.line2}\n" for row in self._rows)

    def write(self, path: str | Path) -> None:
        """Write :meth:`to_tle_text` to ``path``."""
        Path(path).write_text(self.to_tle_text(), encoding="utf-8")

    # ---- updates

    def update(self, other: Catalogue) -> int:
        """Merge ``other`` in place; return how many element sets were applied.

        A set for a new NORAD id is added; one for a known id replaces the current set only if
        its epoch is strictly newer. Applying anything bumps :attr:`revision`, re-sorts and
        drops the cached :attr:`satrec_array`.
        """
        if len(other) == 0:
            return 0
        index = self.index_of(other.norad_ids)
        known = index >= 0
        newer = np.zeros(len(other), dtype=bool)
        newer[known] = other.epoch_unix_s[known] > self.epoch_unix_s[index[known]]
        added = ~known
        applied = int(newer.sum() + added.sum())
        if applied == 0:
            return 0
        rows = list(self._rows)
        for j in np.flatnonzero(newer).tolist():
            rows[index[j]] = other._rows[j]
        rows.extend(other._rows[j] for j in np.flatnonzero(added).tolist())
        self._set_rows(rows)
        self.revision += 1
        return applied


def _newest_per_id(rows: list[ElementSet]) -> list[ElementSet]:
    newest: dict[int, ElementSet] = {}
    for row in rows:
        kept = newest.get(row.norad_id)
        if kept is None or row.epoch_unix_s > kept.epoch_unix_s:
            newest[row.norad_id] = row
    return list(newest.values())

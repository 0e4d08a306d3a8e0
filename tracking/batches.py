"""Records in bulk: a frame's track updates as columns, and JSON Lines encoded in one pass.

The tracker computes a frame's tracks as arrays; :class:`TrackBatch` keeps them so, and builds
the :class:`~.models.TrackUpdate` models of the public API only when asked
(:meth:`TrackBatch.records`). :func:`json_lines` and :meth:`TrackBatch.to_json_lines` write the
wire form of many records at once with orjson, byte for byte what each model's
:meth:`~.models._Record.to_json` writes (compact, every field present in the model's order,
nulls included, times as ``2026-05-31T01:02:03.000000Z``, floats in their shortest round-trip
form): ``tests/tracking/test_batches.py`` compares both on real records. orjson writes floats
as pydantic does; msgspec writes exponents without their sign (``1e16``, not ``1e+16``), which
is why it is not the encoder here (``bench/records.py`` measures the three).

A record field that is NaN or infinite is refused (``ValueError``): the models refuse them, and
orjson would write them as null.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property, lru_cache
from itertools import chain

import numpy as np
import orjson

from .models import Association, TrackUpdate, _Record, format_time
from .types import Array, BoolArray, IntArray, TrackStatus

__all__ = ["TrackBatch", "json_lines", "trusted_records"]

_set_slot = object.__setattr__


def trusted_records(model: type[_Record], rows: Iterable[dict[str, object]]) -> list:
    """Models of ``model`` from full field dicts computed by orbitlink itself, unvalidated.

    Every field is present, in the model's order, with the right type and finite floats, so
    validation would only cost time (about 15 us a record, more than a track's whole filter
    cycle). This is what ``model_construct`` ends with for a full set of fields, minus its
    per-field default and alias handling. ``test_batches`` checks such records equal validated
    ones, so a pydantic upgrade that changes the model internals fails there.
    """
    fields = set(model.model_fields)
    new = model.__new__
    out = []
    for values in rows:
        record = new(model)
        _set_slot(record, "__dict__", values)
        _set_slot(record, "__pydantic_fields_set__", set(fields))
        _set_slot(record, "__pydantic_extra__", None)
        _set_slot(record, "__pydantic_private__", None)
        out.append(record)
    return out


@lru_cache(maxsize=4096)
def _time_text(value: datetime) -> str:
    return format_time(value)


def _time_default(value: object) -> str:
    # orjson hands its default every datetime (OPT_PASSTHROUGH_DATETIME): its own form drops
    # zero microseconds, which the wire contract keeps.
    if isinstance(value, datetime):
        return _time_text(value)
    raise TypeError(f"{type(value).__name__} is not a record field type")


_FLOAT_TYPES = (float, float | None)
# Per record model, its scalar float fields: the ones a finiteness check looks at.
_FLOAT_FIELDS: dict[type, operator.itemgetter] = {
    kind: operator.itemgetter(
        *(name for name, info in kind.model_fields.items() if info.annotation in _FLOAT_TYPES)
    )
    for kind in (TrackUpdate, Association)
}


def json_lines(records: Iterable[_Record]) -> bytes:
    """The wire form of ``records`` (models), one JSON line each, ``\n``-terminated:
    ``b"".join(r.to_json().encode() + b"\n" for r in records)``, in one pass."""
    records = list(records)
    kinds = {type(record) for record in records}
    if len(kinds) != 1 or next(iter(kinds)) not in _FLOAT_FIELDS:
        # Mixed or other records (alerts): each its own serialiser.
        return b"".join(
            json_lines([r]) if type(r) in _FLOAT_FIELDS else r.to_json().encode() + b"\n"
            for r in records
        )
    kind = next(iter(kinds))
    rows = [record.__dict__ for record in records]
    _check_floats(kind, rows)
    return _lines(rows)


def _check_floats(kind: type, rows: list[dict[str, object]]) -> None:
    floats = [v for v in chain.from_iterable(map(_FLOAT_FIELDS[kind], rows)) if v is not None]
    if np.isfinite(np.fromiter(floats, float, len(floats))).all():
        return
    for values in rows:
        for value in values.values():
            if type(value) is float and not math.isfinite(value):
                raise ValueError(f"{kind.__name__} {values.get('track_id')!r}: a field is {value}")


def _lines(rows: list[dict[str, object]]) -> bytes:
    """JSON lines of field dicts that all begin with ``"time"`` and hold no nested objects.

    One orjson call for the whole list (its per-call cost is most of a record's), split at
    the row boundaries: inside a JSON string every quote is escaped, and no row holds an
    object, so ``},{"time":`` occurs only between rows.
    """
    if not rows:
        return b""
    body = orjson.dumps(
        rows,
        default=_time_default,
        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_PASSTHROUGH_DATETIME,
    )
    return body[1:-1].replace(b'},{"time":', b'}\n{"time":') + b"\n"


_STATUSES: tuple[TrackStatus, ...] = ("tentative", "confirmed", "coasting", "deleted")
_CODE = {name: code for code, name in enumerate(_STATUSES)}


@dataclass(frozen=True)
class TrackBatch:
    """One sensor's track updates at one frame, as columns (K rows, in the tracker's order).

    ``status`` holds codes into ``("tentative", "confirmed", "coasting", "deleted")``; ``det_id``
    the detection each track took (None for none). Angles degrees, rates deg/s, covariances
    4x4 as in :class:`~.models.TrackUpdate`.
    """

    time: datetime
    sensor_id: str
    frame_id: str | None
    track_id: tuple[str, ...]
    status: IntArray
    ra_deg: Array
    dec_deg: Array
    ra_rate_deg_s: Array
    dec_rate_deg_s: Array
    covariance: Array  # (K, 4, 4)
    n_updates: IntArray
    n_missed: IntArray
    det_id: tuple[str | None, ...]

    def __len__(self) -> int:
        return len(self.track_id)

    @classmethod
    def empty(cls, time: datetime, sensor_id: str, frame_id: str | None) -> TrackBatch:
        return cls(
            time,
            sensor_id,
            frame_id,
            (),
            np.zeros(0, np.intp),
            np.zeros(0),
            np.zeros(0),
            np.zeros(0),
            np.zeros(0),
            np.zeros((0, 4, 4)),
            np.zeros(0, np.intp),
            np.zeros(0, np.intp),
            (),
        )

    @classmethod
    def from_records(cls, records: Sequence[TrackUpdate]) -> TrackBatch:
        """Columns of models of one sensor's frame: the time, sensor and frame id are the
        first record's."""
        if not records:
            raise ValueError("from_records needs at least one record (use empty())")
        first = records[0]
        return cls(
            first.time,
            first.sensor_id,
            first.frame_id,
            tuple(r.track_id for r in records),
            np.array([_CODE[r.status] for r in records], dtype=np.intp),
            np.array([r.ra_deg for r in records], dtype=float),
            np.array([r.dec_deg for r in records], dtype=float),
            np.array([r.ra_rate_deg_s for r in records], dtype=float),
            np.array([r.dec_rate_deg_s for r in records], dtype=float),
            np.array([r.covariance for r in records], dtype=float).reshape(-1, 4, 4),
            np.array([r.n_updates for r in records], dtype=np.intp),
            np.array([r.n_missed for r in records], dtype=np.intp),
            tuple(r.det_id for r in records),
        )

    @property
    def statuses(self) -> list[TrackStatus]:
        return [_STATUSES[code] for code in self.status.tolist()]

    def is_status(self, *names: TrackStatus) -> BoolArray:
        return np.isin(self.status, [_CODE[name] for name in names])

    @property
    def took_detection(self) -> BoolArray:
        return np.array([d is not None for d in self.det_id], dtype=bool)

    def take(self, index: IntArray | BoolArray) -> TrackBatch:
        """The rows at ``index`` (indices or a mask), in that order."""
        rows = np.flatnonzero(index) if np.asarray(index).dtype == bool else np.asarray(index)
        rows = rows.astype(np.intp)
        picked = rows.tolist()
        return TrackBatch(
            self.time,
            self.sensor_id,
            self.frame_id,
            tuple(self.track_id[i] for i in picked),
            self.status[rows],
            self.ra_deg[rows],
            self.dec_deg[rows],
            self.ra_rate_deg_s[rows],
            self.dec_rate_deg_s[rows],
            self.covariance[rows],
            self.n_updates[rows],
            self.n_missed[rows],
            tuple(self.det_id[i] for i in picked),
        )

    def with_status(self, rows: BoolArray, name: TrackStatus) -> TrackBatch:
        """A copy with the status of the rows where ``rows`` is True set to ``name``."""
        return replace(self, status=np.where(rows, _CODE[name], self.status))

    def concat(self, other: TrackBatch) -> TrackBatch:
        """These rows, then ``other``'s (of the same frame)."""
        if len(other) == 0:
            return self
        if len(self) == 0:
            return other
        return TrackBatch(
            self.time,
            self.sensor_id,
            self.frame_id,
            self.track_id + other.track_id,
            np.concatenate([self.status, other.status]),
            np.concatenate([self.ra_deg, other.ra_deg]),
            np.concatenate([self.dec_deg, other.dec_deg]),
            np.concatenate([self.ra_rate_deg_s, other.ra_rate_deg_s]),
            np.concatenate([self.dec_rate_deg_s, other.dec_rate_deg_s]),
            np.concatenate([self.covariance, other.covariance]),
            np.concatenate([self.n_updates, other.n_updates]),
            np.concatenate([self.n_missed, other.n_missed]),
            self.det_id + other.det_id,
        )

    def _rows(self) -> list[dict[str, object]]:
        """Each record's field dict, in the model's field order."""
        self._check_finite()
        sensor_id, frame_id = self.sensor_id, self.frame_id
        columns = zip(
            self.track_id,
            self.statuses,
            self.ra_deg.tolist(),
            self.dec_deg.tolist(),
            self.ra_rate_deg_s.tolist(),
            self.dec_rate_deg_s.tolist(),
            self.covariance.tolist(),
            self.n_updates.tolist(),
            self.n_missed.tolist(),
            self.det_id,
        )
        return [
            {
                "time": self.time,
                "track_id": track_id,
                "sensor_id": sensor_id,
                "frame_id": frame_id,
                "status": status,
                "ra_deg": ra,
                "dec_deg": dec,
                "ra_rate_deg_s": ra_rate,
                "dec_rate_deg_s": dec_rate,
                "covariance": cov,
                "n_updates": n_updates,
                "n_missed": n_missed,
                "det_id": det_id,
            }
            for track_id, status, ra, dec, ra_rate, dec_rate, cov, n_updates, n_missed, det_id in (
                columns
            )
        ]

    def _check_finite(self) -> None:
        finite = (
            np.isfinite(self.ra_deg)
            & np.isfinite(self.dec_deg)
            & np.isfinite(self.ra_rate_deg_s)
            & np.isfinite(self.dec_rate_deg_s)
            & np.all(np.isfinite(self.covariance), axis=(1, 2))
        )
        if not finite.all():
            bad = self.track_id[int(np.flatnonzero(~finite)[0])]
            raise ValueError(f"track {bad!r} has a non-finite value: it cannot be a record")

    @cached_property
    def _records(self) -> list[TrackUpdate]:
        return trusted_records(TrackUpdate, self._rows())

    def records(self) -> list[TrackUpdate]:
        """The :class:`~.models.TrackUpdate` models, built once (a new list each call)."""
        return list(self._records)

    def to_json_lines(self) -> bytes:
        """The wire form of every row, one JSON line each, ``\n``-terminated.

        Column by column: one orjson call writes each numeric column (floats as it writes a
        Python float), and one bytes template per row puts them in the model's field order,
        so no per-record object is built.
        """
        if not len(self):
            return b""
        self._check_finite()
        dumps = orjson.dumps
        scalar = dumps(format_time(self.time)), dumps(self.sensor_id), dumps(self.frame_id)
        status = [_STATUS_JSON[code] for code in self.status.tolist()]
        columns = zip(
            _strings(self.track_id),
            status,
            _numbers(self.ra_deg),
            _numbers(self.dec_deg),
            _numbers(self.ra_rate_deg_s),
            _numbers(self.dec_rate_deg_s),
            _matrices(self.covariance),
            _numbers(self.n_updates),
            _numbers(self.n_missed),
            _strings(self.det_id),
        )
        time, sensor_id, frame_id = scalar
        line = _TRACK_LINE
        return b"".join(
            [line % (time, track_id, sensor_id, frame_id, *rest) for track_id, *rest in columns]
        )


_STATUS_JSON = [orjson.dumps(name) for name in _STATUSES]
# A track update's line with its fields in the model's order (the wire contract).
_TRACK_LINE = b"{" + b",".join(b'"%s":%%b' % n.encode() for n in TrackUpdate.model_fields) + b"}\n"


def _strings(values: Sequence[str | None]) -> list[bytes]:
    """Each string (or None) as a JSON value, as orjson writes it: UTF-8, with only quotes,
    backslashes and control characters escaped (those take orjson, the others need none)."""
    if _NEEDS_ESCAPE.search("".join(v for v in values if v is not None)):
        return [orjson.dumps(v) for v in values]
    return [b"null" if v is None else f'"{v}"'.encode() for v in values]


_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]')


def _numbers(values: np.ndarray) -> list[bytes]:
    """Each number of a 1-D float or integer array as orjson writes it."""
    body = orjson.dumps(np.ascontiguousarray(values), option=orjson.OPT_SERIALIZE_NUMPY)
    return body[1:-1].split(b",")


def _matrices(values: np.ndarray) -> list[bytes]:
    """Each ``(4, 4)`` matrix of a ``(K, 4, 4)`` float array as a JSON list of lists."""
    body = orjson.dumps(
        np.ascontiguousarray(values, dtype=np.float64), option=orjson.OPT_SERIALIZE_NUMPY
    )
    parts = body[3:-3].split(b"]],[[")  # numbers hold no brackets
    return [b"[[" + part + b"]]" for part in parts]

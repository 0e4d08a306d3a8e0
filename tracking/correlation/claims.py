"""Claims: which track of a sensor is each catalogued object, across frames.

One object is one track at a time, and it has one element-set offset over a pass. The frame's
assignment keeps two tracks *of the same frame* from sharing an object, but tracks of one
sensor follow each other in time: a train member crosses the field a minute after its
neighbour. So a track that names an object leaves a :class:`Claims` entry: its verdict and
the offset line its arc measured, kept ``claim_memory_s`` after the track's last detection.

A later track that wants the same object either agrees with the claim (its offsets are the
claimant's carried to its time, within their uncertainties: the same object seen again, after
a gap or by a track that broke) or competes with it: the claimant joins the frame's assignment
as one more track wanting that object with the evidence it had, and the better arc keeps the
object. A claimant that loses, or keeps the object only ambiguously, gets a revised verdict.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np

from ..batches import json_lines
from ..models import Association
from ..types import Array, BoolArray

__all__ = ["Claims", "CONSISTENT_CHI2"]

_MAGIC = b"ORBITLINK-CLAIMS-1\n"
#: Two arcs agree on an object's offset when the chi-square of their intercepts' difference,
#: both components, is below this (the 1e-4 tail of 2 degrees of freedom).
CONSISTENT_CHI2 = 18.4


@dataclass(frozen=True)
class Claims:
    """M claims, one per object: the claimant's verdict and its offset line at ``time_s``."""

    norad_id: np.ndarray  # (M,) int64, increasing
    verdict: tuple[Association, ...]  # (M,) the claimant's last naming record
    time_s: Array  # (M,) when the claimant last measured it
    log_lr: Array  # (M,) the claimant's evidence then
    slow: BoolArray  # (M,) along offset a distance (near-stationary object), else a time
    mean: Array  # (M, 2, 2) per component (along, cross): intercept at time_s, slope
    cov: Array  # (M, 2, 2, 2)
    drift_var: Array  # (M, 2) prior variance of the slopes

    def __len__(self) -> int:
        return len(self.norad_id)

    @classmethod
    def empty(cls) -> Claims:
        z = np.zeros
        return cls(
            z(0, np.int64), (), z(0), z(0), z(0, bool), z((0, 2, 2)), z((0, 2, 2, 2)), z((0, 2))
        )

    def take(self, index: np.ndarray) -> Claims:
        index = np.flatnonzero(index) if index.dtype == bool else index
        return Claims(
            self.norad_id[index],
            tuple(self.verdict[i] for i in index.tolist()),
            self.time_s[index],
            self.log_lr[index],
            self.slow[index],
            self.mean[index],
            self.cov[index],
            self.drift_var[index],
        )

    def find(self, norad_ids: np.ndarray) -> np.ndarray:
        """Row of each NORAD id's claim, -1 where there is none."""
        if len(self) == 0:
            return np.full(len(norad_ids), -1, dtype=np.intp)
        row = np.minimum(np.searchsorted(self.norad_id, norad_ids), len(self) - 1)
        return np.where(self.norad_id[row] == norad_ids, row, -1).astype(np.intp)

    def carried_to(self, rows: np.ndarray, time_s: float) -> tuple[Array, Array]:
        """The intercepts (``(R, 2)``, along and cross) the claims at ``rows`` put at
        ``time_s``, and their variances: the slope carries the intercept, and the drift the
        prior allows over the gap widens it."""
        gap = time_s - self.time_s[rows]
        mean, cov = self.mean[rows], self.cov[rows]
        intercept = mean[:, :, 0] + mean[:, :, 1] * gap[:, None]
        variance = (
            cov[:, :, 0, 0]
            + 2.0 * gap[:, None] * cov[:, :, 0, 1]
            + gap[:, None] ** 2 * (cov[:, :, 1, 1] + self.drift_var[rows])
        )
        return intercept, variance

    def updated(self, new: Claims, released: set[int], now_s: float, memory_s: float) -> Claims:
        """These claims with ``new`` ones replacing or adding theirs, those of ``released``
        objects dropped, and those older than ``memory_s`` forgotten."""
        keep = ~np.isin(self.norad_id, new.norad_id) & ~np.isin(
            self.norad_id, np.array(sorted(released), dtype=np.int64)
        )
        keep &= now_s - self.time_s <= memory_s
        merged = _concat(self.take(keep), new)
        return merged.take(np.argsort(merged.norad_id, kind="stable"))

    # ---- bytes

    def to_bytes(self) -> bytes:
        header = json.dumps(
            {"verdict": json_lines(self.verdict).decode().split("\n")[:-1]},
            separators=(",", ":"),
        ).encode()
        arrays = [
            np.ascontiguousarray(self.norad_id, "<i8"),
            np.ascontiguousarray(self.time_s, "<f8"),
            np.ascontiguousarray(self.log_lr, "<f8"),
            np.ascontiguousarray(self.slow, "|b1"),
            np.ascontiguousarray(self.mean, "<f8"),
            np.ascontiguousarray(self.cov, "<f8"),
            np.ascontiguousarray(self.drift_var, "<f8"),
        ]
        return b"".join(
            [_MAGIC, struct.pack("<I", len(header)), header, *(a.tobytes() for a in arrays)]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Claims:
        if not data.startswith(_MAGIC):
            raise ValueError("not orbitlink claims (bad magic)")
        offset = len(_MAGIC)
        try:
            (size,) = struct.unpack_from("<I", data, offset)
            offset += 4
            verdicts = tuple(
                Association.model_validate_json(v)
                for v in json.loads(data[offset : offset + size].decode())["verdict"]
            )
            offset += size
        except (struct.error, KeyError, ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"corrupt claims: {exc!r}") from None
        m = len(verdicts)
        out = []
        for dtype, shape in (
            ("<i8", ()),
            ("<f8", ()),
            ("<f8", ()),
            ("|b1", ()),
            ("<f8", (2, 2)),
            ("<f8", (2, 2, 2)),
            ("<f8", (2,)),
        ):
            count = m * int(np.prod(shape, dtype=int))
            nbytes = count * np.dtype(dtype).itemsize
            if offset + nbytes > len(data):
                raise ValueError("corrupt claims: arrays run past the end")
            out.append(np.frombuffer(data, dtype, count, offset).reshape((m, *shape)).copy())
            offset += nbytes
        if offset != len(data):
            raise ValueError("corrupt claims: trailing bytes")
        return cls(out[0], verdicts, out[1], out[2], out[3].astype(bool), out[4], out[5], out[6])


def _concat(a: Claims, b: Claims) -> Claims:
    return Claims(
        np.r_[a.norad_id, b.norad_id].astype(np.int64),
        a.verdict + b.verdict,
        np.r_[a.time_s, b.time_s],
        np.r_[a.log_lr, b.log_lr],
        np.r_[a.slow, b.slow].astype(bool),
        np.concatenate([a.mean, b.mean]),
        np.concatenate([a.cov, b.cov]),
        np.concatenate([a.drift_var, b.drift_var]),
    )

"""Readers and writers of observation and result files.

Native formats (frames JSONL, sensors JSON, records JSONL) live in :mod:`.frames`; external
observation formats in :mod:`.iod` (IOD 80-column), :mod:`.udl` (UDL EOObservation JSON) and
:mod:`.tdm` (CCSDS TDM angles). :func:`read_observations` reads any of them into frames plus
the sensors those frames need. See ``docs/formats.md``.
"""

from __future__ import annotations

from .errors import FormatError, Reject
from .frames import (
    iter_frames_jsonl,
    iter_records,
    parse_record,
    read_records,
    read_sensors,
    write_frames_jsonl,
    write_records,
    write_sensors,
)

__all__ = [
    "FormatError",
    "Reject",
    "iter_frames_jsonl",
    "iter_records",
    "parse_record",
    "read_records",
    "read_sensors",
    "write_frames_jsonl",
    "write_records",
    "write_sensors",
]

"""Readers and writers of observation and result files.

Native formats (frames JSONL, sensors JSON, records JSONL) live in :mod:`.frames`; external
observation formats in :mod:`.iod` (IOD 80-column), :mod:`.udl` (UDL EOObservation JSON) and
:mod:`.tdm` (CCSDS TDM angles). :func:`read_observations` reads any of them into frames plus
the sensors those frames need. Every reader of records is strict unless given a ``rejects``
list (see :mod:`orbitlink.tracking.errors`). See ``docs/formats.md``.
"""

from __future__ import annotations

from ..errors import FormatError, Reject
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
from .grouping import Observation, frame_id_for, group_into_frames
from .iod import (
    IODFormatError,
    IODObservation,
    format_iod_line,
    frames_from_observations,
    iter_iod,
    load_sites,
    parse_iod_line,
)
from .observations import ObservationFormat, detect_format, read_observations
from .tdm import parse_tdm, read_tdm, write_tdm
from .udl import (
    EOObservation,
    frames_from_eo_observations,
    iter_eo_observations,
    read_udl,
    write_udl,
)

__all__ = [
    "EOObservation",
    "FormatError",
    "IODFormatError",
    "IODObservation",
    "Observation",
    "ObservationFormat",
    "Reject",
    "detect_format",
    "format_iod_line",
    "frame_id_for",
    "frames_from_eo_observations",
    "frames_from_observations",
    "group_into_frames",
    "iter_eo_observations",
    "iter_frames_jsonl",
    "iter_iod",
    "iter_records",
    "load_sites",
    "parse_iod_line",
    "parse_record",
    "parse_tdm",
    "read_observations",
    "read_records",
    "read_sensors",
    "read_tdm",
    "read_udl",
    "write_frames_jsonl",
    "write_records",
    "write_sensors",
    "write_tdm",
    "write_udl",
]

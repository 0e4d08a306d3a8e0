"""One entry point for every observation format: :func:`read_observations`.

``orbitlink replay FILE [--format iod --sites FILE]`` goes through here: the format is given or
detected from the content, and the result is the frames plus the sensors they need.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from os import PathLike
from typing import Literal

from ..errors import FormatError, Reject, check_rejects, raise_or_reject
from ..models import Frame, Sensor
from .frames import iter_frames_jsonl, open_text, read_sensors

__all__ = ["ObservationFormat", "detect_format", "read_observations"]

ObservationFormat = Literal["frames", "iod", "udl", "tdm"]
FORMATS: tuple[str, ...] = ("frames", "iod", "udl", "tdm")
_HEAD_CHARS = 65536


def detect_format(path: str | PathLike[str]) -> ObservationFormat:
    """Which format a file is in, from its first lines (``.gz`` files are looked into).

    TDM: the first keyword is ``CCSDS_TDM_VERS``. JSON (array or lines): UDL when objects have
    ``obTime``, frames when they have ``frame_id``. IOD: one of the first non-comment lines is a
    compliant IOD line. Anything else raises :class:`FormatError`.
    """
    with open_text(path) as handle:
        head = handle.read(_HEAD_CHARS)
    name = str(path)
    lines = [line for line in head.splitlines() if line.strip()]
    meaningful = [line.strip() for line in lines if not line.strip().startswith("COMMENT")]
    if meaningful and meaningful[0].startswith("CCSDS_TDM_VERS"):
        return "tdm"
    if head.lstrip().startswith(("[", "{")):
        has_frame = re.search(r'"frame_id"\s*:', head) is not None
        has_ob_time = re.search(r'"obTime"\s*:', head) is not None
        if has_ob_time and not has_frame:
            return "udl"
        if has_frame and not has_ob_time:
            return "frames"
        raise FormatError(
            "JSON, but neither frames (frame_id) nor UDL EOObservations (obTime)", source=name
        )
    from .iod import IODFormatError, parse_iod_line

    candidates = [line for line in lines if not line.lstrip().startswith("#")][:20]
    for line in candidates:
        try:
            parse_iod_line(line)
        except IODFormatError:
            continue
        return "iod"
    raise FormatError(
        "cannot tell the format (not a frames JSONL, UDL JSON, CCSDS TDM or IOD "
        "file); give it explicitly",
        source=name,
    )


def _sensor_map(
    value: str | PathLike[str] | Mapping[str, Sensor] | None, loader
) -> dict[str, Sensor]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    return loader(value)


def read_observations(
    path: str | PathLike[str],
    format: ObservationFormat | None = None,
    *,
    sites: str | PathLike[str] | Mapping[str, Sensor] | None = None,
    sensors: str | PathLike[str] | Mapping[str, Sensor] | None = None,
    rejects: list[Reject] | None = None,
    tolerance_s: float = 0.01,
) -> tuple[list[Frame] | Iterator[Frame], dict[str, Sensor]]:
    """The frames of an observation file and the sensors they need.

    ``format`` is detected when ``None``. ``sites`` (an IOD/COSPAR site list, path or mapping)
    and ``sensors`` (a sensors JSON file, path or mapping) define the sensors; where both name
    the same id, ``sensors`` wins. IOD needs sites; TDM needs one of them; UDL uses them for
    sensors its records do not place; frames JSONL carry their sensors inline or rely on them.

    Frames JSONL comes back as a lazy iterator (files can be large); the other formats as a
    time-ordered list. The returned sensors are the given ones plus every sensor a returned
    frame carries inline (for the lazy frames iterator: the given ones only).

    Bad records raise :class:`FormatError`; with a ``rejects`` list they are appended there
    instead (for the lazy iterator, as the iteration reaches them) and reading goes on. A
    fault of the file as a whole raises either way.
    """
    check_rejects(rejects)
    chosen = format or detect_format(path)
    if chosen not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {chosen!r}")
    from .iod import load_sites

    known = _sensor_map(sites, load_sites)
    known.update(_sensor_map(sensors, read_sensors))

    frames: list[Frame]
    if chosen == "frames":
        return iter_frames_jsonl(path, rejects=rejects), known
    if chosen == "iod":
        from .iod import frames_from_observations, iter_iod

        if not known:
            raise FormatError(
                "IOD observations need a site list (sites=...) to place their stations",
                source=str(path),
            )
        observations = list(iter_iod(path, known, rejects=rejects))
        unplaced: list[Reject] = []
        frames = frames_from_observations(
            observations, known, tolerance_s=tolerance_s, rejects=unplaced
        )
        for reject in unplaced:  # name the file, as the line's own errors do
            raise_or_reject(reject.error.locate(source=str(path)), rejects)
    elif chosen == "udl":
        from .udl import read_udl

        frames = read_udl(path, known, tolerance_s=tolerance_s, rejects=rejects)
    else:
        from .tdm import read_tdm

        frames = read_tdm(path, known, tolerance_s=tolerance_s, rejects=rejects)
    for frame in frames:
        if frame.sensor is not None:
            known.setdefault(frame.sensor_id, frame.sensor)
    return frames, known

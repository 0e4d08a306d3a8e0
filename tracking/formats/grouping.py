"""Group single observations into frames.

External formats (IOD, UDL, TDM) report one angle measurement per record; orbitlink processes
frames (one exposure of one sensor). Observations of the same sensor whose times agree within
``tolerance_s`` become one frame; each frame carries its sensor inline so it is
self-describing. Identifiers are deterministic, so reading the same file twice gives the same
frame and detection ids (a replay can then be deduplicated downstream).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from ..models import Detection, Frame, Sensor, parse_time

__all__ = ["Observation", "frame_id_for", "group_into_frames"]


@dataclass(frozen=True, slots=True)
class Observation:
    """One angles-only measurement of one object by one sensor, in orbitlink's conventions.

    ``ra_deg``/``dec_deg`` are topocentric ICRS (J2000) degrees; ``sigma_arcsec`` the 1-sigma
    position uncertainty; ``label`` what the source says the object is (a NORAD number or a
    provider's id), kept in the detection id so evaluation can trace it; ``source_ref`` where
    the record came from (``"file:line"``), for error messages.
    """

    sensor_id: str
    time: datetime
    ra_deg: float
    dec_deg: float
    sigma_arcsec: float | None = None
    mag: float | None = None
    label: str | None = None
    source_ref: str | None = None


def frame_id_for(sensor_id: str, time: datetime) -> str:
    """``"<sensor>-<YYYYmmddTHHMMSS.fff>"``: the frame id of a sensor's exposure at ``time``."""
    stamp = parse_time(time)
    return f"{sensor_id}-{stamp.strftime('%Y%m%dT%H%M%S')}.{stamp.microsecond // 1000:03d}"


def group_into_frames(
    observations: Iterable[Observation],
    sensors: Mapping[str, Sensor],
    *,
    tolerance_s: float = 0.01,
    exposure_s: float = 0.0,
) -> list[Frame]:
    """Frames, sorted by time then sensor, from observations of known sensors.

    Observations are sorted by ``(sensor_id, time)``; a frame starts at its earliest
    observation and takes every later observation of the same sensor less than or equal to
    ``tolerance_s`` after that start. The frame time is the start time, so keep the tolerance
    well below the time in which an object moves by its position uncertainty. Detection ids
    are ``"<frame_id>:<index>"`` plus ``":<label>"`` when the observation names its object.

    Raises ``KeyError`` for an observation whose sensor is not in ``sensors`` (callers check
    sensors first and turn that into a format error naming the record).
    """
    if tolerance_s < 0:
        raise ValueError("tolerance_s must be >= 0")
    ordered = sorted(observations, key=lambda o: (o.sensor_id, parse_time(o.time)))
    groups: list[list[Observation]] = []
    for obs in ordered:
        if groups:
            head = groups[-1][0]
            same_sensor = head.sensor_id == obs.sensor_id
            delta = (parse_time(obs.time) - parse_time(head.time)).total_seconds()
            if same_sensor and delta <= tolerance_s:
                groups[-1].append(obs)
                continue
        groups.append([obs])

    frames: list[Frame] = []
    for group in groups:
        head = group[0]
        sensor = sensors[head.sensor_id]
        frame_id = frame_id_for(head.sensor_id, head.time)
        detections = []
        for index, obs in enumerate(group):
            det_id = f"{frame_id}:{index}" + (f":{obs.label}" if obs.label else "")
            detections.append(
                Detection(
                    det_id=det_id,
                    ra_deg=obs.ra_deg,
                    dec_deg=obs.dec_deg,
                    sigma_arcsec=obs.sigma_arcsec,
                    mag=obs.mag,
                )
            )
        frames.append(
            Frame(
                frame_id=frame_id,
                sensor_id=head.sensor_id,
                time=head.time,
                exposure_s=exposure_s,
                sensor=sensor,
                detections=detections,
            )
        )
    frames.sort(key=lambda f: (f.time, f.sensor_id))
    return frames

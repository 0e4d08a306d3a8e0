"""Faults injected into a simulated scenario, to check that the model monitor sees them.

Each function takes a :class:`~orbitlink.tracking.simulate.Scenario` and returns a new one in
which the frames of one sensor, from ``from_time`` on, carry the fault; the rest is unchanged
(the truth gains the ids of added detections). They model what goes wrong in operations:

* :func:`inflate_noise`: the astrometric noise grows (bad seeing, defocus) while the sensor
  keeps reporting its usual sigma;
* :func:`misreport_sigma`: the sensor reports sigmas ``factor`` times its real noise;
* :func:`clock_bias`: the sensor's clock is off, so every frame is stamped late (or early);
* :func:`fragment_burst`: objects break up: each detected object gets companions a few
  arc-minutes away moving with it, none of them in the catalogue.

A stale catalogue needs no function: simulate at a time long after the catalogue's epochs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np

from .models import Detection, Frame, parse_time
from .simulate import Scenario
from .sky import gnomonic_from_radec, radec_from_gnomonic

__all__ = ["clock_bias", "fragment_burst", "inflate_noise", "misreport_sigma"]


def _affected(frame: Frame, sensor_id: str, from_time: datetime) -> bool:
    return frame.sensor_id == sensor_id and frame.time >= parse_time(from_time)


def inflate_noise(
    scenario: Scenario, factor: float, *, sensor_id: str, from_time: datetime | str
) -> Scenario:
    """Multiply the astrometric error of every detection of a real object by ``factor``
    (each detection moves ``factor`` times as far from the object's noise-free position);
    reported sigmas and false alarms are unchanged."""
    frames = []
    for frame in scenario.frames:
        if not _affected(frame, sensor_id, from_time):
            frames.append(frame)
            continue
        truth = {o["norad_id"]: o for o in scenario.objects_in_view[frame.frame_id]}
        detections = []
        for d in frame.detections:
            obj = truth.get(scenario.truth[d.det_id])
            if obj is None:
                detections.append(d)
                continue
            xi, eta = gnomonic_from_radec(d.ra_deg, d.dec_deg, obj["ra_deg"], obj["dec_deg"])
            ra, dec = radec_from_gnomonic(factor * xi, factor * eta, obj["ra_deg"], obj["dec_deg"])
            detections.append(
                d.model_copy(update={"ra_deg": float(ra) % 360.0, "dec_deg": float(dec)})
            )
        frames.append(frame.model_copy(update={"detections": detections}))
    return replace(scenario, frames=frames)


def clock_bias(
    scenario: Scenario, bias_s: float, *, sensor_id: str, from_time: datetime | str
) -> Scenario:
    """Stamp the sensor's frames ``bias_s`` seconds late (early when negative): the detections
    show the sky at the true time, the frames claim another."""
    shift = timedelta(seconds=bias_s)
    frames = [
        f.model_copy(update={"time": f.time + shift}) if _affected(f, sensor_id, from_time) else f
        for f in scenario.frames
    ]
    frames.sort(key=lambda f: (f.time, f.sensor_id))
    return replace(scenario, frames=frames)


def fragment_burst(
    scenario: Scenario,
    *,
    sensor_id: str,
    from_time: datetime | str,
    per_object: int = 2,
    offset_deg: float = 0.1,
    seed: int = 0,
) -> Scenario:
    """Give every object the sensor detects from ``from_time`` on ``per_object`` uncatalogued
    companions, each at a fixed offset of ``offset_deg`` in a random direction (drawn once
    per object and companion), detected whenever the object is. Their truth is null."""
    rng = np.random.default_rng(seed)
    angles: dict[tuple[int, int], float] = {}
    truth = dict(scenario.truth)
    frames = []
    for frame in scenario.frames:
        if not _affected(frame, sensor_id, from_time):
            frames.append(frame)
            continue
        added = []
        for d in frame.detections:
            norad_id = scenario.truth[d.det_id]
            if norad_id is None:
                continue
            for k in range(per_object):
                angle = angles.setdefault((norad_id, k), float(rng.uniform(0.0, 2.0 * np.pi)))
                ra, dec = radec_from_gnomonic(
                    offset_deg * np.cos(angle), offset_deg * np.sin(angle), d.ra_deg, d.dec_deg
                )
                det_id = f"{d.det_id}:fragment{k}"
                truth[det_id] = None
                added.append(
                    Detection(
                        det_id=det_id,
                        ra_deg=float(ra) % 360.0,
                        dec_deg=float(dec),
                        sigma_arcsec=d.sigma_arcsec,
                        mag=d.mag,
                    )
                )
        frames.append(frame.model_copy(update={"detections": [*frame.detections, *added]}))
    return replace(scenario, frames=frames, truth=truth)


def misreport_sigma(
    scenario: Scenario, factor: float, *, sensor_id: str, from_time: datetime | str
) -> Scenario:
    """Multiply the sigma every detection reports by ``factor``, the noise unchanged."""
    default = {s.sensor_id: s.sigma_arcsec for s in scenario.sensors}[sensor_id]
    frames = []
    for frame in scenario.frames:
        if not _affected(frame, sensor_id, from_time):
            frames.append(frame)
            continue
        detections = [
            d.model_copy(update={"sigma_arcsec": factor * (d.sigma_arcsec or default)})
            for d in frame.detections
        ]
        frames.append(frame.model_copy(update={"detections": detections}))
    return replace(scenario, frames=frames)

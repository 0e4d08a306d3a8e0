"""The whole per-frame computation: a frame in, track updates and associations out.

:class:`Pipeline` is what both the Faust worker and the offline replay call, so a recorded
scenario gives the same records either way. It is functional in the tracker state: the caller
keeps each sensor's state as bytes (a Faust table in the worker, a dict offline) and hands it
back with the sensor's next frame::

    pipeline = Pipeline(sensors, catalogue)
    state = None
    for frame in frames:
        result = pipeline.process(frame, state)
        state = result.state
        publish(result.tracks, result.associations)

Given the same state bytes and the same frame, the output records are identical, which is what
makes reprocessing after a crash harmless (at-least-once delivery with idempotent records).

A sensor's state holds its tracker (:meth:`SensorTracker.to_bytes`), the correlator's
evidence about every track's candidates (:class:`~.correlation.ArcEvidence`) and each track's
last verdict, so that a verdict is made from the whole arc, not from one frame.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import Field

from . import splines
from .batches import TrackBatch, json_lines
from .candidates import CandidateCache
from .catalogue import Catalogue
from .constants import ARCSEC_PER_DEG
from .correlation import ArcEvidence, CorrelationSettings, identify
from .correlation.claims import Claims
from .errors import UnknownSensorError
from .models import Association, Frame, Sensor, TrackUpdate
from .predict import SkyPredictor
from .settings import Settings, load_settings_file
from .tracker import SensorTracker, TrackerSettings, TrackerStep
from .tracklets import MIN_TRACKLET_DETECTIONS, Tracklet
from .types import Disposition

__all__ = [
    "FrameResult",
    "Pipeline",
    "PipelineSettings",
    "UnknownSensorError",
    "load_pipeline_settings",
    "state_last_time_s",
    "tracker_of_state",
]


class PipelineSettings(Settings):
    """Settings of the tracker and the correlator, and whether to correlate at all.

    A settings file (``--pipeline-settings FILE``) holds the sections and fields to change:
    ``{"tracker": {...}, "correlation": {...}, "correlate": true}``; what is left out keeps
    its default, and an unknown section or field is an error naming it.
    """

    tracker: TrackerSettings = Field(
        default_factory=TrackerSettings, description="The frame-to-frame tracker."
    )
    correlation: CorrelationSettings = Field(
        default_factory=CorrelationSettings, description="The catalogue correlator."
    )
    correlate: bool = Field(True, description="Correlate confirmed tracks with the catalogue.")


def load_pipeline_settings(path: str | Path) -> PipelineSettings:
    """:class:`PipelineSettings` from a JSON file (see the class)."""
    return load_settings_file(PipelineSettings, path)


@dataclass(frozen=True)
class FrameResult:
    """What one frame produced. ``state`` is the sensor's state to keep for next time; for a
    duplicate or out-of-order frame it is the state passed in, unchanged, and no records are
    produced. ``track_batch`` holds the track updates as columns (``tracks`` builds their
    models); ``tracklets`` holds the observations of the published tracks that ended at this
    frame as UCTs, with at least ``MIN_TRACKLET_DETECTIONS`` detections, for the linker
    (:mod:`.linking`); ``nis`` the normalised innovation squared of each confirmed track that
    took a detection.

    :meth:`tracks_json_lines` and :meth:`associations_json_lines` are the records' wire form
    in bulk, byte for byte each model's ``to_json()`` plus a newline.
    """

    state: bytes
    track_batch: TrackBatch
    associations: list[Association]
    disposition: Disposition
    tracklets: list[Tracklet] = field(default_factory=list)
    nis: dict[str, float] = field(default_factory=dict)

    @property
    def tracks(self) -> list[TrackUpdate]:
        """The track updates, as models (built once)."""
        return self.track_batch.records()

    def tracks_json_lines(self) -> bytes:
        """Every track update's JSON line, ``\n``-terminated."""
        return self.track_batch.to_json_lines()

    def associations_json_lines(self) -> bytes:
        """Every association's JSON line, ``\n``-terminated."""
        if self._association_lines is None:
            return json_lines(self.associations)
        return self._association_lines

    # The associations' lines as the pipeline wrote them for the sensor's state.
    _association_lines: bytes | None = field(default=None, repr=False, compare=False)


# Version 2 holds the verdicts as their JSON lines; version 1, still read, held a JSON object
# of those lines as strings, which cost an escape of every quote both ways.
_STATE_MAGIC = b"ORBITLINK-SENSOR-2\n"
_STATE_MAGIC_V1 = b"ORBITLINK-SENSOR-1\n"


def tracker_of_state(state: bytes, settings: TrackerSettings | None = None) -> SensorTracker:
    """The tracker held in a sensor's state (:attr:`FrameResult.state`), without reading the
    evidence and verdicts beside it. Raises ``ValueError`` on bytes that are not a state."""
    return _SensorState.tracker_part(state, settings)


def state_last_time_s(state: bytes) -> float:
    """The time (Unix s) of the last frame a sensor's state has processed, NaN if none."""
    return tracker_of_state(state).last_time_s


@dataclass
class _SensorState:
    """One sensor's tracker, the evidence about its tracks and their last verdicts."""

    tracker: SensorTracker
    evidence: ArcEvidence
    verdicts: dict[str, Association]
    claims: Claims
    # Each verdict's wire form (its JSON line, without the newline), written once when the
    # verdict is made.
    verdict_line: dict[str, bytes] = field(default_factory=dict)

    def set_verdicts(self, records: list[Association], lines: bytes, live: set[str]) -> None:
        """Keep the verdicts of the live tracks among ``records``, whose JSON ``lines``
        (:func:`~.batches.json_lines`) they are."""
        verdicts, verdict_line = self.verdicts, self.verdict_line
        for record, line in zip(records, lines.split(b"\n")):
            track_id = record.track_id
            if track_id in live:
                verdicts[track_id] = record
                verdict_line[track_id] = line

    def keep_verdicts(self, live: set[str]) -> None:
        self.verdicts = {k: v for k, v in self.verdicts.items() if k in live}
        self.verdict_line = {k: v for k, v in self.verdict_line.items() if k in live}

    def to_bytes(self) -> bytes:
        tracker = self.tracker.to_bytes()
        evidence = self.evidence.to_bytes()
        line = self.verdict_line
        verdicts = b"".join([line[k] + b"\n" for k in sorted(self.verdicts)])
        claims = self.claims.to_bytes()
        sizes = struct.pack("<IIII", len(tracker), len(evidence), len(verdicts), len(claims))
        return b"".join([_STATE_MAGIC, sizes, tracker, evidence, verdicts, claims])

    @staticmethod
    def _parts(data: bytes) -> list[bytes]:
        if not data.startswith((_STATE_MAGIC, _STATE_MAGIC_V1)):
            raise ValueError("not an orbitlink sensor state (bad magic)")
        offset = len(_STATE_MAGIC)  # both versions' magic has this length
        try:
            sizes = struct.unpack_from("<IIII", data, offset)
        except struct.error as exc:
            raise ValueError(f"corrupt sensor state: {exc}") from None
        offset += 16
        parts = []
        for size in sizes:
            parts.append(data[offset : offset + size])
            offset += size
        if offset != len(data):
            raise ValueError("corrupt sensor state: its parts do not add up to its length")
        return parts

    @classmethod
    def tracker_part(cls, data: bytes, settings: TrackerSettings | None = None) -> SensorTracker:
        """The tracker of a state, without reading the rest."""
        tracker = cls._parts(data)[0]
        return SensorTracker.from_bytes(tracker, settings or TrackerSettings())

    @classmethod
    def from_bytes(cls, data: bytes, settings: TrackerSettings) -> _SensorState:
        parts = cls._parts(data)
        if data.startswith(_STATE_MAGIC_V1):
            lines = [text.encode() for text in json.loads(parts[2]).values()]
        else:
            lines = parts[2].split(b"\n")[:-1]
        verdicts, verdict_line = {}, {}
        for line in lines:
            verdict = Association.model_validate_json(line)
            verdicts[verdict.track_id] = verdict
            verdict_line[verdict.track_id] = line
        return cls(
            SensorTracker.from_bytes(parts[0], settings),
            ArcEvidence.from_bytes(parts[1]),
            verdicts,
            Claims.from_bytes(parts[3]),
            verdict_line,
        )


class Pipeline:
    """Tracks and correlates frames of any number of sensors against one catalogue."""

    def __init__(
        self,
        sensors: Mapping[str, Sensor] | Iterable[Sensor] = (),
        catalogue: Catalogue | None = None,
        settings: PipelineSettings | None = None,
    ) -> None:
        self.settings = settings or PipelineSettings()
        self.catalogue = catalogue
        # One predictor per catalogue, shared by every sensor: its sgp4 nodes serve every
        # frame within the grid step, whichever sensor took it.
        self._predictor = SkyPredictor(catalogue) if catalogue is not None else None
        # Each sensor's candidate objects (derived from the predictor, never serialised).
        self._candidates: dict[str, CandidateCache] = {}
        self.sensors: dict[str, Sensor] = {}
        for sensor in sensors.values() if isinstance(sensors, Mapping) else sensors:
            self.add_sensor(sensor)
        # The last state of each sensor with the bytes it serialised to: when the caller hands
        # those same bytes back (the usual case) nothing need be rebuilt.
        self._live: dict[str, tuple[bytes, _SensorState]] = {}

    def add_sensor(self, sensor: Sensor) -> None:
        """Register or redefine a sensor."""
        self.sensors[sensor.sensor_id] = sensor

    def update_catalogue(self, element_sets: Catalogue) -> int:
        """Apply newer element sets in place; returns how many were applied."""
        if self.catalogue is None:
            self.catalogue = element_sets
            self._predictor = SkyPredictor(element_sets)
            self._candidates.clear()
            return len(element_sets)
        # The predictor follows the catalogue's revision and drops its sgp4 nodes by itself.
        return self.catalogue.update(element_sets)

    def prepare(self) -> None:
        """Build what frames will need of the current catalogue (:meth:`SkyPredictor.prepare`)
        now rather than on the next frame: for a worker once it has read the catalogue."""
        if self._predictor is not None:
            self._predictor.prepare()
            splines.load()

    def sensor_for(self, frame: Frame) -> Sensor:
        """The frame's sensor: its inline definition (which is then registered) or a known one."""
        if frame.sensor is not None:
            if self.sensors.get(frame.sensor_id) != frame.sensor:
                self.add_sensor(frame.sensor)
            return frame.sensor
        try:
            return self.sensors[frame.sensor_id]
        except KeyError:
            raise UnknownSensorError(frame.sensor_id) from None

    def process(self, frame: Frame, state: bytes | None) -> FrameResult:
        """Run one frame through its sensor's tracker and the correlator.

        Raises :class:`UnknownSensorError` for a frame of an unknown sensor.
        """
        sensor = self.sensor_for(frame)
        current = self._state(frame.sensor_id, state)
        step = current.tracker.process(frame, sensor.sigma_arcsec)
        if step.disposition != "processed":
            unchanged = state if state is not None else current.to_bytes()
            return FrameResult(unchanged, step.batch, [], step.disposition)
        updates, records, lines = self._correlate(step, sensor, frame, current)
        tracklets = self._tracklets(step, sensor, current)
        live = set(current.tracker.track_ids)
        current.evidence = current.evidence.of_tracks(live)
        current.keep_verdicts(live)
        new_state = current.to_bytes()
        self._live[frame.sensor_id] = (new_state, current)
        return FrameResult(new_state, updates, records, "processed", tracklets, step.nis, lines)

    def _state(self, sensor_id: str, state: bytes | None) -> _SensorState:
        if state is None:
            return _SensorState(
                SensorTracker(sensor_id, self.settings.tracker),
                ArcEvidence.empty(),
                {},
                Claims.empty(),
            )
        live = self._live.get(sensor_id)
        if live is not None and live[0] == state:
            return live[1]
        return _SensorState.from_bytes(state, self.settings.tracker)

    def _correlate(
        self, step: TrackerStep, sensor: Sensor, frame: Frame, current: _SensorState
    ) -> tuple[TrackBatch, list[Association], bytes]:
        """The frame's track records with the tracks the correlator confirmed, its verdicts,
        and their JSON lines."""
        updates = step.batch
        if not self.settings.correlate or self.catalogue is None or len(self.catalogue) == 0:
            return updates, [], b""
        offered = step.offered_batch if step.offered_batch is not None else updates.take([])
        # Only tracks that took a detection this frame: a coasting track's position is a
        # prediction, and correlating it again would only repeat its last verdict. Short
        # tentative arcs the tracker does not publish yet are offered too: a catalogued
        # object that explains one confirms it.
        measured = updates.take(
            updates.took_detection & updates.is_status("confirmed", "tentative")
        ).concat(offered)
        if not len(measured):
            return updates, [], b""
        result = identify(
            measured,
            current.tracker.arcs(measured.track_id),
            current.evidence,
            sensor,
            self._predictor,
            self.settings.correlation,
            fov=frame.fov,
            claims=current.claims,
            candidates=self._candidates_of(sensor),
        )
        current.evidence = result.evidence
        current.claims = result.claims
        promoted = set(result.confirm)
        if promoted:
            # A catalogued object explains these tentative tracks' arcs: they are confirmed
            # now, and their records say so.
            current.tracker.confirm(result.confirm)
            if result.rate_priors:
                ids = list(result.rate_priors)
                current.tracker.fuse_rates(
                    ids,
                    np.array([result.rate_priors[i][0] for i in ids]),
                    np.array([result.rate_priors[i][1] for i in ids]),
                )

            def among(batch: TrackBatch) -> np.ndarray:
                return np.array([t in promoted for t in batch.track_id], dtype=bool)

            updates = updates.with_status(among(updates), "confirmed").concat(
                offered.take(among(offered)).with_status(np.True_, "confirmed")
            )
        # An offered arc that no catalogued object explains stays unpublished: no verdict.
        unpublished = set(offered.track_id) - promoted
        records = [a for a in result.associations if a.track_id not in unpublished]
        # Earlier tracks whose object this frame's tracks took or now share get a new verdict.
        records += result.revised
        lines = json_lines(records)
        current.set_verdicts(records, lines, set(current.tracker.track_ids))
        return updates, records, lines

    def _candidates_of(self, sensor: Sensor) -> CandidateCache:
        cache = self._candidates.get(sensor.sensor_id)
        if cache is None or cache.predictor is not self._predictor:
            cache = self._candidates[sensor.sensor_id] = CandidateCache(self._predictor)
        return cache

    @staticmethod
    def _tracklets(step: TrackerStep, sensor: Sensor, current: _SensorState) -> list[Tracklet]:
        """The tracks that ended at this frame whose last verdict was a UCT, as tracklets:
        their arcs (the first detection, the last, and the rest spread between) and counts."""
        if not step.ended:
            return []
        times, ra, dec, sigma = step.ended_arcs
        batch = step.batch
        n_updates = dict(zip(batch.track_id, batch.n_updates.tolist()))
        out = []
        for i, track_id in enumerate(step.ended):
            verdict = current.verdicts.get(track_id)
            use = np.isfinite(times[i])
            count = n_updates.get(track_id, int(use.sum()))
            if verdict is None or not verdict.uct or use.sum() < MIN_TRACKLET_DETECTIONS:
                continue
            out.append(
                Tracklet.from_arrays(
                    track_id,
                    sensor,
                    times[i][use],
                    ra[i][use],
                    dec[i][use],
                    sigma[i][use] * ARCSEC_PER_DEG,
                    n_detections=max(count, int(use.sum())),
                    verdict=verdict,
                )
            )
        return out

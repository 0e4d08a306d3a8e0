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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from .catalogue import Catalogue
from .correlation import CorrelationSettings, correlate_tracks
from .errors import UnknownSensorError
from .models import Association, Frame, Sensor, TrackUpdate
from .predict import SkyPredictor
from .settings import Settings, load_settings_file
from .tracker import SensorTracker, TrackerSettings
from .types import Disposition

__all__ = [
    "FrameResult",
    "Pipeline",
    "PipelineSettings",
    "UnknownSensorError",
    "load_pipeline_settings",
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
    """What one frame produced. ``state`` is the sensor's tracker state to keep for next time;
    for a duplicate or out-of-order frame it is the state passed in, unchanged, and no records
    are produced."""

    state: bytes
    tracks: list[TrackUpdate]
    associations: list[Association]
    disposition: Disposition


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
        self.sensors: dict[str, Sensor] = {}
        for sensor in sensors.values() if isinstance(sensors, Mapping) else sensors:
            self.add_sensor(sensor)
        # The last tracker of each sensor with the bytes it serialised to: when the caller
        # hands those same bytes back (the usual case) the tracker need not be rebuilt.
        self._live: dict[str, tuple[bytes, SensorTracker]] = {}

    def add_sensor(self, sensor: Sensor) -> None:
        """Register or redefine a sensor."""
        self.sensors[sensor.sensor_id] = sensor

    def update_catalogue(self, element_sets: Catalogue) -> int:
        """Apply newer element sets in place; returns how many were applied."""
        if self.catalogue is None:
            self.catalogue = element_sets
            self._predictor = SkyPredictor(element_sets)
            return len(element_sets)
        # The predictor follows the catalogue's revision and drops its sgp4 nodes by itself.
        return self.catalogue.update(element_sets)

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
        tracker = self._tracker(frame.sensor_id, state)
        step = tracker.process(frame, sensor.sigma_arcsec)
        if step.disposition != "processed":
            unchanged = state if state is not None else tracker.to_bytes()
            return FrameResult(unchanged, [], [], step.disposition)
        new_state = tracker.to_bytes()
        self._live[frame.sensor_id] = (new_state, tracker)
        return FrameResult(
            new_state, step.updates, self._correlate(step.updates, sensor, frame), "processed"
        )

    def _tracker(self, sensor_id: str, state: bytes | None) -> SensorTracker:
        if state is None:
            return SensorTracker(sensor_id, self.settings.tracker)
        live = self._live.get(sensor_id)
        if live is not None and live[0] == state:
            return live[1]
        return SensorTracker.from_bytes(state, self.settings.tracker)

    def _correlate(
        self, updates: list[TrackUpdate], sensor: Sensor, frame: Frame
    ) -> list[Association]:
        if not self.settings.correlate or self.catalogue is None or len(self.catalogue) == 0:
            return []
        # Only tracks that took a detection this frame: a coasting track's position is a
        # prediction, and correlating it again would only repeat its last verdict.
        measured = [u for u in updates if u.status == "confirmed" and u.det_id is not None]
        if not measured:
            return []
        # The correlator predicts the whole catalogue at the frame time from the predictor's
        # sgp4 nodes, shared by every frame within the grid step: a whole-catalogue request
        # always goes through the nodes, so the result depends only on the time and the
        # catalogue, never on what came before.
        return correlate_tracks(
            measured, sensor, self._predictor, self.settings.correlation, fov=frame.fov
        )

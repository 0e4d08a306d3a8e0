"""orbitlink: a streaming tracking engine for space domain awareness.

The names most programs need, in one place (the way ``skyfield.api`` is)::

    from orbitlink import Catalogue, Pipeline, Frame

    catalogue = Catalogue.from_path("../shared/data/catalog/celestrak-2026-05-30")
    pipeline = Pipeline(sensors, catalogue)
    result = pipeline.process(frame, state=None)

The library is :mod:`orbitlink.tracking` (pure computation over numpy arrays: records, sky
geometry, catalogue and prediction, tracker, correlation, formats, simulation, evaluation); the
Kafka service is :mod:`orbitlink.stream`. Importing this module never imports Kafka or Faust.
"""

from orbitlink.tracking.catalogue import Catalogue, CatalogueError
from orbitlink.tracking.correlation import CorrelationSettings, correlate_tracks
from orbitlink.tracking.evaluate import EvaluationReport, evaluate
from orbitlink.tracking.models import (
    Association,
    Detection,
    FieldOfView,
    Frame,
    Sensor,
    TrackUpdate,
)
from orbitlink.tracking.pipeline import FrameResult, Pipeline, PipelineSettings
from orbitlink.tracking.predict import SkyPrediction, predict_sky
from orbitlink.tracking.simulate import ScenarioSettings, simulate_scenario
from orbitlink.tracking.tracker import TrackerSettings

__all__ = [
    "Association",
    "Catalogue",
    "CatalogueError",
    "CorrelationSettings",
    "Detection",
    "EvaluationReport",
    "FieldOfView",
    "Frame",
    "FrameResult",
    "Pipeline",
    "PipelineSettings",
    "ScenarioSettings",
    "Sensor",
    "SkyPrediction",
    "TrackUpdate",
    "TrackerSettings",
    "correlate_tracks",
    "evaluate",
    "predict_sky",
    "simulate_scenario",
]

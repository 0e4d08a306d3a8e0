"""orbitlink: a streaming tracking engine for space domain awareness.

The names most programs need, in one place (the way ``skyfield.api`` is)::

    from orbitlink import Catalogue, Pipeline, Frame

    catalogue = Catalogue.from_path("../shared/data/catalog/celestrak-2026-05-30")
    pipeline = Pipeline(sensors, catalogue)
    result = pipeline.process(frame, state=None)   # state: bytes to hand back next frame

    scenario = simulate(catalogue, seed=1)          # a simulated sky with its truth

The library is :mod:`orbitlink.tracking` (pure computation over numpy arrays: records, sky
geometry, catalogue and prediction, tracker, correlation, formats, simulation, evaluation); the
Kafka service is :mod:`orbitlink.stream`. Importing this module never imports Kafka or Faust.
"""

from orbitlink.tracking.catalogue import Catalogue, CatalogueError
from orbitlink.tracking.correlation import CorrelationSettings, correlate_tracks
from orbitlink.tracking.errors import FormatError, Reject, UnknownSensorError
from orbitlink.tracking.evaluate import EvaluationReport, evaluate, read_run, score
from orbitlink.tracking.models import (
    Association,
    Detection,
    FieldOfView,
    Frame,
    Sensor,
    TrackUpdate,
)
from orbitlink.tracking.offline import run_offline
from orbitlink.tracking.pipeline import FrameResult, Pipeline, PipelineSettings
from orbitlink.tracking.predict import SkyPrediction, SkyPredictor, predict_sky
from orbitlink.tracking.simulate import ScenarioSettings, simulate, write_scenario
from orbitlink.tracking.tracker import TrackerSettings
from orbitlink.tracking.verdicts import final_verdicts

__all__ = [
    "Association",
    "Catalogue",
    "CatalogueError",
    "CorrelationSettings",
    "Detection",
    "EvaluationReport",
    "FieldOfView",
    "FormatError",
    "Frame",
    "FrameResult",
    "Pipeline",
    "PipelineSettings",
    "Reject",
    "ScenarioSettings",
    "Sensor",
    "SkyPrediction",
    "SkyPredictor",
    "TrackUpdate",
    "TrackerSettings",
    "UnknownSensorError",
    "correlate_tracks",
    "evaluate",
    "final_verdicts",
    "predict_sky",
    "read_run",
    "run_offline",
    "score",
    "simulate",
    "write_scenario",
]

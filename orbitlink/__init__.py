"""orbitlink: a streaming tracking engine for space domain awareness.

The names most programs need, in one place (the way ``skyfield.api`` is)::

    from orbitlink import Catalogue, Pipeline, Frame

    catalogue = Catalogue.from_path("../shared/data/catalog/celestrak-2026-05-30")
    pipeline = Pipeline(sensors, catalogue)
    result = pipeline.process(frame, state=None)   # state: bytes to hand back next frame

    scenario = simulate(catalogue, seed=1)          # a simulated sky with its truth

The library is :mod:`orbitlink.tracking` (pure computation over numpy arrays: records, sky
geometry, catalogue and prediction, tracker, correlation, formats, simulation, evaluation); the
Kafka service is :mod:`orbitlink.stream`. Importing this module never imports Kafka or Faust,
and each name is imported when first used (PEP 562), so that a program that needs one part
(the worker, a reader) does not pay for loading all of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Each public name and the module that defines it.
_HOMES: dict[str, str] = {
    "Association": "orbitlink.tracking.models",
    "Catalogue": "orbitlink.tracking.catalogue",
    "CatalogueError": "orbitlink.tracking.catalogue",
    "CorrelationSettings": "orbitlink.tracking.correlation",
    "Detection": "orbitlink.tracking.models",
    "EvaluationReport": "orbitlink.tracking.evaluate",
    "FieldOfView": "orbitlink.tracking.models",
    "FormatError": "orbitlink.tracking.errors",
    "Frame": "orbitlink.tracking.models",
    "FrameResult": "orbitlink.tracking.pipeline",
    "Pipeline": "orbitlink.tracking.pipeline",
    "PipelineSettings": "orbitlink.tracking.pipeline",
    "Reject": "orbitlink.tracking.errors",
    "ScenarioSettings": "orbitlink.tracking.simulate",
    "Sensor": "orbitlink.tracking.models",
    "SkyPrediction": "orbitlink.tracking.predict",
    "SkyPredictor": "orbitlink.tracking.predict",
    "TrackUpdate": "orbitlink.tracking.models",
    "TrackerSettings": "orbitlink.tracking.tracker",
    "UnknownSensorError": "orbitlink.tracking.errors",
    "correlate_tracks": "orbitlink.tracking.correlation",
    "evaluate": "orbitlink.tracking.evaluate",
    "final_verdicts": "orbitlink.tracking.verdicts",
    "predict_sky": "orbitlink.tracking.predict",
    "read_run": "orbitlink.tracking.evaluate",
    "run_offline": "orbitlink.tracking.offline",
    "score": "orbitlink.tracking.evaluate",
    "simulate": "orbitlink.tracking.simulate",
    "write_scenario": "orbitlink.tracking.simulate",
}

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'orbitlink' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

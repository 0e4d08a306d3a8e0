"""Running a worker process: load the catalogue and sensors, create topics, start Faust.

``orbitlink worker`` calls :func:`run_worker`. Several workers with the same settings form one
consumer group and share the frames partitions; each reads the sensors and catalogue topics
in full. A worker that loses the broker keeps retrying (aiokafka reconnects; the frames agent
blocks on output delivery) rather than exiting.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.formats import read_sensors
from orbitlink.tracking.pipeline import (
    Pipeline,
    PipelineSettings,
    load_pipeline_settings,
)

from .admin import ensure_topics
from .app import OrbitlinkApp, create_app
from .inputs import SideInputs
from .probe import BrokerError, wait_for_broker
from .settings import StreamSettings
from .sinks import KafkaSink

__all__ = ["build_pipeline", "run_worker"]

log = logging.getLogger(__name__)


def build_pipeline(
    settings: StreamSettings, pipeline_settings: PipelineSettings | None = None
) -> Pipeline:
    """A pipeline with the catalogue, sensors and pipeline settings files named in
    ``settings`` (each optional); ``pipeline_settings`` given here wins over the file."""
    catalogue = Catalogue.from_path(settings.catalogue) if settings.catalogue else None
    sensors = read_sensors(settings.sensors) if settings.sensors else {}
    if pipeline_settings is None and settings.pipeline_settings is not None:
        pipeline_settings = load_pipeline_settings(settings.pipeline_settings)
    return Pipeline(sensors, catalogue, pipeline_settings)


def _wait_and_create_topics(settings: StreamSettings) -> None:
    """Wait (forever, logging) for the broker, then create the topics."""
    while True:
        try:
            wait_for_broker(settings.bootstrap, timeout_s=30.0)
            ensure_topics(settings)
            return
        except BrokerError as error:
            log.warning("broker %s not ready (%s); retrying", settings.broker, error)
            time.sleep(2.0)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def run_worker(settings: StreamSettings) -> None:
    """Run a worker in the foreground until SIGINT/SIGTERM."""
    import faust

    configure_logging(settings.log_level)
    started = time.perf_counter()
    pipeline = build_pipeline(settings)
    log.info(
        "loaded %d sensors and %d catalogue objects in %.1f s",
        len(pipeline.sensors),
        0 if pipeline.catalogue is None else len(pipeline.catalogue),
        time.perf_counter() - started,
    )
    _wait_and_create_topics(settings)
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    sink = KafkaSink(
        settings.bootstrap,
        max_batch_size=settings.output_batch_bytes,
        linger_ms=settings.output_linger_ms,
        max_request_size=settings.max_message_bytes,
        client_id=f"{settings.faust_app_id}-output",
    )
    holder: OrbitlinkApp = create_app(settings, pipeline, sink=sink, inputs=SideInputs(settings))
    worker = faust.Worker(
        holder.app,
        loglevel=settings.log_level.upper(),
        override_logging=False,
        redirect_stdouts=False,
    )
    worker.execute_from_commandline()

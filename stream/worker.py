"""Running a worker process: load the catalogue and sensors, create topics, start Faust.

``orbitlink worker`` calls :func:`run_worker`. Several workers with the same settings form one
consumer group and share the frames partitions; each reads the sensors and catalogue topics
in full. A worker that loses the broker keeps retrying (aiokafka reconnects; the frames agent
blocks on output delivery) rather than exiting, and logs each kind of connection error once
per :data:`REPEAT_WINDOW_S` instead of ten times a second.

Stopping and restarting:

* SIGTERM (or Ctrl-C) stops the worker within ``shutdown_timeout_s`` whatever the broker's
  state: Faust hands the partitions over and commits what it can; what it cannot (the broker
  gone) stays as last committed, and the process exits anyway.
* A local store ahead of its changelog (the broker lost its data while the worker was down) is
  rebuilt from the changelog at start (:mod:`~orbitlink.stream.localstore`), and so is one that
  Faust refuses with ``ConsistencyError`` at a rebalance.
* A broker found to have lost frames while the worker runs (``OrbitlinkApp.data_lost``) makes
  the worker start afresh: topics created again, local store rebuilt, the same process (the
  same pid) running the same command line again.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.formats import read_sensors
from orbitlink.tracking.pipeline import (
    Pipeline,
    PipelineSettings,
    load_pipeline_settings,
)

from .admin import describe_broker, ensure_topics
from .app import OrbitlinkApp, create_app
from .inputs import SideInputs
from .localstore import rebuild_stale_store
from .probe import BrokerError, wait_for_broker
from .settings import SMALL_RECORD_BYTES, StreamSettings
from .sinks import KafkaSink

__all__ = ["REPEAT_WINDOW_S", "RepeatFilter", "build_pipeline", "run_worker"]

log = logging.getLogger(__name__)

#: A log message repeating within this many seconds is shown once, then counted.
REPEAT_WINDOW_S = 30.0


#: The topics the worker's output sink writes.
SINK_ROLES = ("tracks", "associations", "tracklets", "uct_objects", "alerts", "deadletter")


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
            wait_for_broker(settings.bootstrap, timeout_s=30.0, ssl_context=settings.ssl_context())
            ensure_topics(settings)
            return
        except BrokerError as error:
            log.warning("broker %s not ready (%s); retrying", settings.broker, error)
            time.sleep(2.0)


def _with_group_timing(settings: StreamSettings) -> StreamSettings:
    """``settings`` with the session timeout and heartbeat it leaves out chosen for its broker
    (Tansu or Apache Kafka: :meth:`StreamSettings.group_timing`)."""
    if settings.session_timeout_s is not None and settings.heartbeat_interval_s is not None:
        return settings
    try:
        kind = describe_broker(settings.bootstrap, security=settings.client_security())["kind"]
    except Exception as error:  # cannot tell: Apache Kafka's defaults suit any broker
        log.warning("cannot tell the broker's kind (%s); group timing for Apache Kafka", error)
        kind = "kafka"
    session_s, heartbeat_s = settings.group_timing(kind)
    log.info(
        "consumer group: session timeout %g s, heartbeat %g s (%s)", session_s, heartbeat_s, kind
    )
    return settings.replace(session_timeout_s=session_s, heartbeat_interval_s=heartbeat_s)


#: The loggers whose repeated warnings and errors :class:`RepeatFilter` holds back.
QUIETED_LOGGERS = ("aiokafka", "faust.transport")


class RepeatFilter(logging.Filter):
    """Lets a warning or error of the Kafka client (:data:`QUIETED_LOGGERS`) through once per
    ``window_s`` (by logger and format string); the next one after the window says how many
    were held back. The client logs a lost broker at every reconnection attempt, several times
    a second. Everything else passes."""

    def __init__(self, window_s: float = REPEAT_WINDOW_S) -> None:
        super().__init__()
        self.window_s = window_s
        self._seen: dict[tuple[str, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(QUIETED_LOGGERS):
            return True
        key = (record.name, record.msg)
        now = time.monotonic()
        shown_at, held = self._seen.get(key, (-float("inf"), 0))
        if now - shown_at < self.window_s:
            self._seen[key] = (shown_at, held + 1)
            return False
        self._seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} (and {held} more like it in {self.window_s:g} s)"
        return True


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    repeats = RepeatFilter()
    for handler in logging.getLogger().handlers:
        handler.addFilter(repeats)


def _exit_after(timeout_s: float) -> None:
    """Arm a timer that ends the process if shutting down takes longer than ``timeout_s``."""

    def force() -> None:
        log.warning(
            "shutdown not finished after %.0f s (broker unreachable?): exiting now; offsets "
            "stay as last committed",
            timeout_s,
        )
        logging.shutdown()
        os._exit(0)

    timer = threading.Timer(timeout_s, force)
    timer.daemon = True
    timer.start()


def _restart(settings: StreamSettings, why: str) -> None:
    """Run this worker's command line again in this process, with an empty local store."""
    log.warning("restarting the worker (%s)", why)
    shutil.rmtree(settings.data_dir.resolve() / settings.faust_app_id, ignore_errors=True)
    logging.shutdown()
    os.execv(sys.executable, [sys.executable, "-m", "orbitlink.stream.cli", *sys.argv[1:]])


def run_worker(settings: StreamSettings) -> None:
    """Run a worker in the foreground until SIGINT/SIGTERM (see the module docstring)."""
    import faust
    from faust.exceptions import ConsistencyError

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
    settings = _with_group_timing(settings)
    rebuild_stale_store(settings)
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    sink = KafkaSink(
        settings.bootstrap,
        max_batch_size=settings.output_batch_bytes,
        linger_ms=settings.output_linger_ms,
        # Tracks, associations and (bounded) dead letters: all under the small-record limit.
        max_request_size=SMALL_RECORD_BYTES,
        client_id=f"{settings.faust_app_id}-output",
        security=settings.client_security(),
        # Every topic it writes, so that no first record waits for the topic's metadata.
        topics=[settings.topic(role) for role in SINK_ROLES],
    )
    holder: OrbitlinkApp = create_app(settings, pipeline, sink=sink, inputs=SideInputs(settings))

    async def arm_exit_timer(sender: object = None, **kwargs: object) -> None:
        _exit_after(settings.shutdown_timeout_s)

    holder.app.on_before_shutdown.connect(arm_exit_timer)
    worker = faust.Worker(
        holder.app,
        loglevel=settings.log_level.upper(),
        override_logging=False,
        redirect_stdouts=False,
    )
    code = 0
    try:
        worker.execute_from_commandline()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except ConsistencyError as error:  # a rebalance met a store ahead of its changelog
        _restart(settings, f"local store ahead of the changelog: {error}".splitlines()[0])
    if holder.data_lost is not None:
        _restart(settings, f"the broker lost its data: {holder.data_lost}")
    if isinstance(worker.crash_reason, ConsistencyError):
        _restart(settings, "local store ahead of the changelog")
    # Faust's consumer thread can outlive its event loop when the broker is gone, and would
    # keep the interpreter from exiting: everything worth keeping is done by now.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

"""The Faust application of the worker: frames agent, tracker-state table, side inputs.

:func:`create_app` builds a fresh :class:`faust.App` from :class:`StreamSettings` (no module-
level app, so tests and several workers can each have their own) around the parts the caller
passes: a :class:`~orbitlink.stream.sinks.Sink` for the records and an
:class:`~orbitlink.stream.inputs.Inputs` for the sensors and element sets. The worker passes a
:class:`~orbitlink.stream.sinks.KafkaSink` and :class:`~orbitlink.stream.inputs.SideInputs`;
a test under Faust's ``test_context`` passes a :class:`~orbitlink.stream.sinks.MemorySink` and
:class:`~orbitlink.stream.inputs.MemoryInputs`. Either way the app wires:

* the **frames agent**: reads ``orbitlink.frames`` as raw bytes, one message at a time per
  worker, through :class:`~orbitlink.stream.processor.FrameProcessor`, once
  :meth:`OrbitlinkApp.start_services` has started the sink and read the inputs to their end;
* the **state table** ``tracker-state``: sensor id -> tracker state bytes, backed by a
  compacted changelog with the frames' partition count (so a sensor's state moves with its
  frames' partition when the group rebalances);
* the **linker agent**: reads the one-partition ``orbitlink.uct-tracklets`` (the UCT tracklets
  the frames agent publishes) through :class:`~orbitlink.stream.linker.LinkerProcessor`, with
  its own table ``linker-state`` (the provisional catalogue), and publishes provisional objects
  to ``orbitlink.uct-objects``; a timer asks it to identify objects when the catalogue changed;
* one :class:`~orbitlink.stream.deadletters.DeadLetters` for the frames and the side inputs;
* an app task running :meth:`~OrbitlinkApp.start_services` (Faust runs app tasks once its
  table is recovered, so "worker ready" means assigned, recovered and caught up), a **metrics
  timer** logging the counters, a log line at each rebalance, and a shutdown hook stopping the
  inputs and the sink.

Faust's ``test_context`` runs the agent but no app task: a test calls ``start_services()``
itself before it puts frames.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import faust
from faust.types import TP

from orbitlink.tracking.pipeline import Pipeline

from .deadletters import DeadLetters
from .inputs import Inputs
from .linker import LinkerProcessor, identify_request
from .processor import FrameProcessor, Metrics
from .settings import StreamSettings
from .sinks import OutboundRecord, Sink

__all__ = ["OrbitlinkApp", "create_app"]

log = logging.getLogger(__name__)


@dataclass
class OrbitlinkApp:
    """The Faust app and the parts a test or the CLI needs to reach."""

    app: faust.App
    settings: StreamSettings
    pipeline: Pipeline
    processor: FrameProcessor
    frames_agent: faust.types.AgentT
    table: faust.types.TableT
    metrics: Metrics
    sink: Sink
    inputs: Inputs
    dead_letters: DeadLetters
    started: asyncio.Event = field(default_factory=asyncio.Event)
    linker: LinkerProcessor | None = None
    linker_agent: faust.types.AgentT | None = None
    linker_table: faust.types.TableT | None = None

    async def start_services(self) -> None:
        """Start the sink and the inputs, wait until the inputs are read to their end, then
        let the frames agent take frames (``started``)."""
        await self.sink.start()
        await self.inputs.start(self.pipeline, self.dead_letters)
        while not await self.inputs.catch_up(30.0):
            log.warning("inputs: still reading the sensors and catalogue topics")
        log.info(
            "worker ready: %d sensors, %d catalogue objects",
            len(self.pipeline.sensors),
            0 if self.pipeline.catalogue is None else len(self.pipeline.catalogue),
        )
        self.started.set()

    async def stop_services(self) -> None:
        """Log the final metrics, stop the inputs and the sink."""
        log.info("metrics (final): %s", self.metrics.summary())
        await self.inputs.stop()
        await self.sink.stop()


def _faust_app(settings: StreamSettings) -> faust.App:
    return faust.App(
        settings.faust_app_id,
        broker=settings.broker,
        store=settings.store,
        datadir=str(settings.data_dir.resolve() / settings.faust_app_id),
        autodiscover=False,
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.frames_partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        broker_commit_interval=settings.commit_interval_s,
        # One record per batch keeps the embedded broker's end offsets right, which the
        # changelog recovery depends on (see docs/topics.md).
        producer_max_batch_size=settings.changelog_batch_bytes,
        producer_linger=0.0,
        producer_max_request_size=settings.max_message_bytes,
        web_enabled=settings.web_port is not None,
        web_port=settings.web_port or 6066,
        web_host="127.0.0.1",
    )


def _add_linker(app: faust.App, settings: StreamSettings, holder: OrbitlinkApp, rewind) -> None:
    """The linker agent, its table and the identification timer (see stream/linker.py)."""
    tracklets_topic = app.topic(
        settings.topic("tracklets"),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=1,
    )
    table = app.Table(
        settings.linker_table,
        default=None,
        key_type=bytes,
        value_type=bytes,
        partitions=1,
        help="The provisional catalogue (the linker's state, bytes)",
    )
    linker = LinkerProcessor(
        settings,
        holder.pipeline,
        holder.sink,
        table,
        metrics=holder.metrics,
        rewind=rewind,
        dead_letters=holder.dead_letters,
    )
    holder.linker, holder.linker_table = linker, table

    async def link(stream: faust.StreamT) -> faust.types.AsyncIterator:  # type: ignore[name-defined]
        await holder.started.wait()
        async for event in stream.events():
            message = event.message
            yield await linker.handle(
                message.key,
                message.value,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
            )

    holder.linker_agent = app.agent(tracklets_topic, name="linker")(link)
    asked: list[object] = [None]  # the catalogue (and revision) identification was asked for

    @app.timer(settings.identify_interval_s)
    async def ask_for_identification() -> None:
        catalogue = holder.pipeline.catalogue
        if not holder.started.is_set() or catalogue is None:
            return
        now = (id(catalogue), catalogue.revision)
        if asked[0] == now:
            return
        asked[0] = now
        key, value = identify_request()
        await holder.sink.publish([OutboundRecord(settings.topic("tracklets"), key, value)])


def create_app(
    settings: StreamSettings, pipeline: Pipeline, *, sink: Sink, inputs: Inputs
) -> OrbitlinkApp:
    """Build the worker's Faust app around ``pipeline``, publishing to ``sink`` and fed by
    ``inputs`` (see the module docstring)."""
    app = _faust_app(settings)
    frames_topic = app.topic(
        settings.topic("frames"),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.frames_partitions,
    )
    # bytes key and value types make Faust use the raw codec for the changelog too.
    table = app.Table(
        settings.state_table,
        default=None,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.frames_partitions,
        help="Tracker state (bytes) of each sensor, by sensor id",
    )
    metrics = Metrics()
    dead_letters = DeadLetters(settings.topic("deadletter"), sink, metrics)

    async def wait_for_sensor(sensor_id: str) -> None:
        await inputs.catch_up(settings.unknown_sensor_wait_s)

    async def rewind(topic: str, partition: int, offset: int) -> None:
        await app.consumer.seek(TP(topic, partition), offset)

    processor = FrameProcessor(
        settings,
        pipeline,
        sink,
        table,
        wait_for_sensor=wait_for_sensor,
        metrics=metrics,
        rewind=rewind,
        dead_letters=dead_letters,
    )
    holder = OrbitlinkApp(
        app=app,
        settings=settings,
        pipeline=pipeline,
        processor=processor,
        frames_agent=None,  # type: ignore[arg-type]  # set below, the agent needs the holder
        table=table,
        metrics=metrics,
        sink=sink,
        inputs=inputs,
        dead_letters=dead_letters,
    )

    async def frames(stream: faust.StreamT) -> faust.types.AsyncIterator:  # type: ignore[name-defined]
        await holder.started.wait()
        async for event in stream.events():
            message = event.message
            yield await processor.handle(
                message.key,
                message.value,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
            )

    holder.frames_agent = app.agent(frames_topic, name="frames")(frames)
    _add_linker(app, settings, holder, rewind)

    @app.task
    async def start_services() -> None:
        await holder.start_services()

    @app.timer(settings.metrics_interval_s)
    async def log_metrics() -> None:
        log.info("metrics: %s", metrics.summary())

    @app.on_rebalance_complete.connect
    async def on_rebalanced(sender: object, **kwargs: object) -> None:
        log.info(
            "partitions assigned: %s",
            sorted(
                tp.partition
                for tp in app.assignor.assigned_actives()
                if tp.topic == settings.topic("frames")
            ),
        )

    async def stop_services(sender: object = None, **kwargs: object) -> None:
        await holder.stop_services()

    app.on_before_shutdown.connect(stop_services)
    return holder

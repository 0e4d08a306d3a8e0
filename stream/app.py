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
  inputs and the sink;
* a **broker check** every few seconds (:meth:`OrbitlinkApp.lost_data`): a broker that lost
  states this worker wrote (the embedded broker restarted empty) stops the worker with
  ``data_lost`` set, and :func:`~orbitlink.stream.worker.run_worker` starts it afresh.

Faust's ``test_context`` runs the agent but no app task: a test calls ``start_services()``
itself before it puts frames.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field

import faust
from faust.types import TP

from orbitlink.tracking.monitoring import Monitor, MonitorSettings
from orbitlink.tracking.pipeline import Pipeline
from orbitlink.tracking.settings import load_settings_file

from .alerts import CatalogueWatch
from .deadletters import DeadLetters
from .faustkafka import FaustApp
from .heap import freeze_long_lived
from .inputs import Inputs
from .linker import LinkerProcessor, identify_request
from .metrics import WorkerMetrics, add_metrics_page
from .offsets import next_offset_key
from .processor import FrameProcessor, Metrics
from .settings import StreamSettings
from .sinks import OutboundRecord, Sink
from .stagetimes import StageLog

__all__ = ["OrbitlinkApp", "create_app"]

log = logging.getLogger(__name__)

#: How often a worker checks that the broker still has the frames it processed.
BROKER_CHECK_INTERVAL_S = 5.0


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
    worker_metrics: WorkerMetrics
    monitor: Monitor | None
    started: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set (to what was lost) when the broker is found to have lost states this worker wrote.
    data_lost: str | None = None
    #: The highest changelog offset of each partition that this worker's writes got.
    changelog_written: dict[int, int] = field(default_factory=dict)
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
        self.pipeline.prepare()  # the catalogue's sgp4 array and epochs: long-lived, then frozen
        freeze_long_lived()
        self.started.set()
        if self.linker is not None:
            self.linker.start()  # its child process imports the linker meanwhile

    async def lost_data(self) -> str | None:
        """What the broker lost, if it lost tracker states this worker wrote: a changelog
        partition whose end offset is below the offset of a state written there (end offsets
        never go back unless the data went; the changelog's are exact on both brokers, as it
        is written one record per batch). None when nothing is lost, and when the broker
        cannot be asked right now (an outage is not a loss)."""
        written = dict(self.changelog_written)
        if not written:
            return None
        tps = [TP(self.settings.changelog_topic, p) for p in sorted(written)]
        try:
            ends = await asyncio.wait_for(self.app.consumer.highwaters(*tps), 10.0)
        except Exception:
            return None
        for tp in tps:
            end = ends.get(tp)
            if end is not None and end <= written[tp.partition]:
                return (
                    f"{tp.topic}[{tp.partition}] ends at offset {end} but this worker wrote a "
                    f"state at offset {written[tp.partition]}"
                )
        return None

    async def stop_services(self) -> None:
        """Log the final metrics, stop the inputs and the sink."""
        log.info("metrics (final): %s", self.metrics.summary())
        if self.processor.stage_log is not None:
            self.processor.stage_log.close()
        if self.linker is not None:
            self.linker.close()
        await self.inputs.stop()
        await self.sink.stop()


def _faust_app(settings: StreamSettings) -> faust.App:
    session_timeout_s, heartbeat_interval_s = settings.group_timing()
    return FaustApp(
        settings.faust_app_id,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        broker=settings.faust_broker,
        broker_credentials=settings.faust_credentials(),
        store=settings.store,
        datadir=str(settings.data_dir.resolve() / settings.faust_app_id),
        autodiscover=False,
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.frames_partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=session_timeout_s,
        broker_heartbeat_interval=heartbeat_interval_s,
        consumer_group_instance_id=settings.group_instance_id,
        broker_commit_interval=settings.commit_interval_s,
        # One record per batch keeps the embedded broker's end offsets right, which the
        # changelog recovery depends on (see docs/topics.md).
        producer_max_batch_size=settings.changelog_batch_bytes,
        producer_linger=0.0,
        producer_max_request_size=settings.max_message_bytes,
        web_enabled=settings.web_port is not None,
        web_port=settings.web_port or 6066,
        # Faust's web_host only names the URL; web_bind is the interface (Faust's default is
        # every one), and /table/... would serve every sensor's state to whoever asks.
        web_host=settings.web_host,
        web_bind=settings.web_host,
        web_tables_enabled=settings.web_tables,
    )


def _next_offsets(app: faust.App, tables: dict[str, Mapping[bytes, bytes]]) -> dict[TP, int]:
    """The next offset each state table stores for the partitions of its input topic (the
    keys of ``tables``) that this worker holds."""
    found = {}
    for tp in app.assignor.assigned_actives():
        states = tables.get(tp.topic)
        stored = None if states is None else states.get(next_offset_key(tp.partition))
        if stored is not None:
            found[TP(tp.topic, tp.partition)] = int(stored)
    return found


def _consumer_lag(
    app: faust.App, topic: str, processor: FrameProcessor
) -> dict[tuple[str, int], int]:
    """Frames waiting in each frames partition this worker holds: the high watermark minus
    the next offset the processor expects."""
    lag = {}
    try:
        for tp, stored in _next_offsets(app, {topic: processor.states}).items():
            highwater = app.consumer.highwater(tp)
            if highwater is not None:
                lag[(tp.topic, tp.partition)] = max(int(highwater) - stored, 0)
    except Exception:  # no consumer yet, or a rebalance under way: nothing to report
        return {}
    return lag


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
    monitor_settings = (
        load_settings_file(MonitorSettings, settings.monitor_settings)
        if settings.monitor_settings is not None
        else MonitorSettings()
    )
    monitor = Monitor(monitor_settings) if settings.monitor else None
    frames_name = settings.topic("frames")
    worker_metrics = WorkerMetrics(
        catalogue=lambda: pipeline.catalogue,
        table=table,
        lag=lambda: _consumer_lag(app, frames_name, processor),
    )

    async def wait_for_sensor(sensor_id: str, published_s: float | None = None) -> None:
        # A frame published before the inputs were last seen at their end needs no wait: its
        # sensor would be known by now. Only the first of a burst of such frames waits.
        if published_s is not None and inputs.caught_up_after(published_s):
            return
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
        monitor=monitor,
        worker_metrics=worker_metrics,
        stage_log=None
        if settings.stage_times_path is None
        else StageLog(settings.stage_times_path),
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
        worker_metrics=worker_metrics,
        monitor=monitor,
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
                published_s=message.timestamp,
            )

    holder.frames_agent = app.agent(frames_topic, name="frames")(frames)
    _add_linker(app, settings, holder, rewind)

    # Note where each state write landed (Faust's own callback keeps the persisted offset).
    faust_on_sent = table._on_changelog_sent

    def on_changelog_sent(future: faust.types.FutureMessage) -> None:
        faust_on_sent(future)
        metadata = future.result()
        partition = metadata.topic_partition.partition
        holder.changelog_written[partition] = max(
            metadata.offset, holder.changelog_written.get(partition, -1)
        )

    table._on_changelog_sent = on_changelog_sent  # type: ignore[method-assign]

    @app.task
    async def start_services() -> None:
        await holder.start_services()

    @app.timer(BROKER_CHECK_INTERVAL_S)
    async def check_broker_kept_its_data() -> None:
        if holder.started.is_set() and holder.data_lost is None:
            lost = await holder.lost_data()
            if lost is not None:
                holder.data_lost = lost
                log.warning(
                    "the broker has lost its data: %s (the embedded broker keeps everything in "
                    "memory: was it restarted?); restarting this worker to rebuild from what "
                    "the broker has",
                    lost,
                )
                # Through the normal shutdown: run_worker sees data_lost and starts afresh.
                os.kill(os.getpid(), signal.SIGTERM)

    @app.timer(settings.metrics_interval_s)
    async def log_metrics() -> None:
        log.info("metrics: %s", metrics.summary())

    if settings.web_port is not None:
        add_metrics_page(app, worker_metrics)

    if monitor is not None:
        watch = CatalogueWatch(settings.topic("alerts"), monitor_settings)
        seen_revision = [None]

        @app.timer(min(60.0, monitor_settings.catalogue_silence_s / 4))
        async def watch_catalogue() -> None:
            if not holder.started.is_set():
                return
            catalogue = pipeline.catalogue
            revision = None if catalogue is None else (id(catalogue), catalogue.revision)
            if revision != seen_revision[0] and seen_revision[0] is not None:
                watch.updated()
            seen_revision[0] = revision
            records = watch.check()
            if records:
                await sink.publish(records)

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
        # Faust seeks to the committed offsets after this signal returns (and waits for it),
        # so the seek to the tables' offsets runs once the rebalance has ended.
        asyncio.ensure_future(resume_where_the_tables_say())

    async def resume_where_the_tables_say() -> None:
        # The state tables, not the group's committed offsets, say which message of each
        # partition comes next. A worker killed before its first commit was seen to leave
        # the next one waiting at the tracklets partition's end, so the messages in between
        # (a takeover's backlog) never came. Seek every input partition this worker holds to
        # its table's next offset (Faust then drops what it had read below it).
        # A partition that has delivered a message needs no seek: the offset guard saw
        # where Faust reads from and sought back itself if that was past the table's offset.
        while app.rebalancing:
            await asyncio.sleep(0.05)
        guards = {settings.topic("frames"): processor.offsets}
        if holder.linker is not None:
            guards[settings.topic("tracklets")] = holder.linker.offsets
        tables = {topic: guard.states for topic, guard in guards.items()}
        for tp, stored in _next_offsets(app, tables).items():
            if not guards[tp.topic].has_delivered(tp.topic, tp.partition):
                await rewind(tp.topic, tp.partition, stored)

    async def stop_services(sender: object = None, **kwargs: object) -> None:
        await holder.stop_services()

    app.on_before_shutdown.connect(stop_services)
    return holder

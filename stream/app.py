"""The Faust application of the worker: frames agent, tracker-state table, side inputs.

:func:`create_app` builds a fresh :class:`faust.App` from :class:`StreamSettings` (no module-
level app, so tests and several workers can each have their own) and wires:

* the **frames agent**: reads ``orbitlink.frames`` as raw bytes, one message at a time per
  worker, through :class:`~stream.processor.FrameProcessor`;
* the **state table** ``tracker-state``: sensor id -> tracker state bytes, backed by a
  compacted changelog with the frames' partition count (so a sensor's state moves with its
  frames' partition when the group rebalances);
* the **side inputs** (:class:`~stream.inputs.SideInputs`): sensors and catalogue topics read
  in full by every worker and applied to the pipeline live;
* a **metrics timer** logging the counters.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import faust
from faust.types import TP

from orbitlink.tracking.catalogue import Catalogue, ElementSet
from orbitlink.tracking.pipeline import Pipeline

from .codecs import dead_letter
from .inputs import SideInputs
from .processor import FrameProcessor, Metrics
from .settings import StreamSettings
from .sinks import KafkaSink, OutboundRecord, Sink

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
    inputs: SideInputs | None = None
    kafka_sink: KafkaSink | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)


def _apply_element_sets(pipeline: Pipeline, element_sets: list[ElementSet]) -> int:
    delta = Catalogue(element_sets)
    return pipeline.update_catalogue(delta)


def create_app(
    settings: StreamSettings, pipeline: Pipeline, *, sink: Sink | None = None, live: bool = True
) -> OrbitlinkApp:
    """Build the worker's Faust app around ``pipeline``.

    With ``live=True`` (the worker) the app starts a :class:`KafkaSink` and the side inputs
    when it starts; ``sink`` is then ignored. With ``live=False`` (Faust's ``test_context``)
    records go to ``sink`` and nothing else connects to a broker.
    """
    app = faust.App(
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
    inputs: SideInputs | None = None
    kafka_sink: KafkaSink | None = None
    if live:
        kafka_sink = KafkaSink(
            settings.bootstrap,
            max_batch_size=settings.output_batch_bytes,
            linger_ms=settings.output_linger_ms,
            max_request_size=settings.max_message_bytes,
            client_id=f"{settings.faust_app_id}-output",
        )
        sink = kafka_sink
    elif sink is None:
        raise ValueError("create_app(live=False) needs a sink")
    assert sink is not None

    async def reject_input(
        topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None, reason: str
    ) -> None:
        metrics["dead_letters"] += 1
        await sink.publish(
            [
                OutboundRecord(
                    settings.topic("deadletter"),
                    key,
                    dead_letter(
                        raw=value,
                        key=key,
                        topic=topic,
                        partition=partition,
                        offset=offset,
                        reason=reason,
                    ),
                )
            ]
        )

    if live:
        inputs = SideInputs(
            settings,
            on_sensor=pipeline.add_sensor,
            on_element_sets=lambda sets: _apply_element_sets(pipeline, sets),
            on_rejected=reject_input,
        )

    async def wait_for_sensor(sensor_id: str) -> None:
        if inputs is not None:
            await inputs.catch_up(settings.unknown_sensor_wait_s)

    async def rewind(topic: str, partition: int, offset: int) -> None:
        await app.consumer.seek(TP(topic, partition), offset)

    processor = FrameProcessor(
        settings,
        pipeline,
        sink,
        table,
        wait_for_sensor=wait_for_sensor if live else None,
        metrics=metrics,
        rewind=rewind if live else None,
    )
    holder = OrbitlinkApp(
        app=app,
        settings=settings,
        pipeline=pipeline,
        processor=processor,
        frames_agent=None,
        table=table,
        metrics=metrics,  # type: ignore[arg-type]
        inputs=inputs,
        kafka_sink=kafka_sink,
    )
    if not live:
        holder.started.set()

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

    if live:

        @app.task
        async def start_side_services() -> None:
            assert inputs is not None and kafka_sink is not None
            await kafka_sink.start()
            await inputs.start()
            while not await inputs.catch_up(30.0):
                log.warning("inputs: still reading the sensors and catalogue topics")
            log.info(
                "worker ready: %d sensors, %d catalogue objects",
                len(pipeline.sensors),
                0 if pipeline.catalogue is None else len(pipeline.catalogue),
            )
            holder.started.set()

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

        async def stop_side_services(sender: object = None, **kwargs: object) -> None:
            log.info("metrics (final): %s", metrics.summary())
            if inputs is not None:
                await inputs.stop()
            if kafka_sink is not None:
                await kafka_sink.stop()

        app.on_before_shutdown.connect(stop_side_services)
    return holder

"""Publishing recorded frames (and sensors, element sets) to the broker.

:func:`publish_frames` is what ``orbitlink replay FILE --broker URL`` runs: the sensors first
(so the worker knows them before their frames), then the frames keyed by sensor id, in file
order, spaced like their event times divided by ``speed`` (or as fast as possible).

Producers here write one record per batch
(:data:`~orbitlink.stream.tansu.TANSU_SAFE_PRODUCER_CONFIG`) on the sensors and catalogue topics,
whose readers rely on end offsets; frames may be batched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.formats import Reject, read_observations
from orbitlink.tracking.formats.observations import FORMATS
from orbitlink.tracking.models import Frame, Sensor

from .admin import ensure_topics_async
from .codecs import encode_element_set, encode_record
from .settings import SMALL_RECORD_BYTES, StreamSettings
from .tansu import TANSU_SAFE_PRODUCER_CONFIG

if TYPE_CHECKING:  # the offline replay reads frames here and never starts a Kafka client
    from aiokafka import AIOKafkaProducer

__all__ = ["ReplaySummary", "load_frames", "publish_catalogue", "publish_frames", "publish_sensors"]


@dataclass
class ReplaySummary:
    """What a replay published, and when (wall clock, Unix seconds)."""

    sensors: int = 0
    frames: int = 0
    detections: int = 0
    started_s: float = 0.0
    finished_s: float = 0.0

    @property
    def elapsed_s(self) -> float:
        return self.finished_s - self.started_s

    @property
    def detections_per_s(self) -> float:
        return self.detections / self.elapsed_s if self.elapsed_s > 0 else float("nan")


def load_frames(
    path: str | Path,
    fmt: str = "frames",
    *,
    sites: str | Path | None = None,
    sensors: Mapping[str, Sensor] | None = None,
    rejects: list[Reject] | None = None,
) -> tuple[list[Frame], dict[str, Sensor]]:
    """Frames of a recorded file and the sensors they need.

    ``fmt`` is ``frames`` (frames JSONL) or an observation format (``iod``, ``udl``, ``tdm``)
    grouped into frames by :func:`~orbitlink.tracking.formats.read_observations`; ``sensors``
    (e.g. from ``--sensors``) are added to those the file defines. Without ``rejects`` the
    first bad record raises :class:`~orbitlink.tracking.errors.FormatError`; with a list, bad
    records are appended to it (line number and reason) and the rest of the file is read.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    frames, known = read_observations(
        path, fmt, sites=sites, sensors=dict(sensors or {}) or None, rejects=rejects
    )
    return list(frames), known


def _producer(settings: StreamSettings, *, safe: bool, max_record_bytes: int) -> AIOKafkaProducer:
    """A producer for one kind of topic; a record over ``max_record_bytes`` (the topic's limit)
    is refused here, before the broker, which the embedded one would not do."""
    from aiokafka import AIOKafkaProducer

    config = dict(TANSU_SAFE_PRODUCER_CONFIG) if safe else {"max_batch_size": 65536, "linger_ms": 5}
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap,
        acks="all",
        max_request_size=max_record_bytes,
        client_id=f"{settings.faust_app_id}-replay",
        **config,
        **settings.client_security(),
    )


async def publish_sensors(settings: StreamSettings, sensors: Iterable[Sensor]) -> int:
    """Publish sensors to the (compacted) sensors topic, key = sensor id; returns how many."""
    sensors = list(sensors)
    if not sensors:
        return 0
    producer = _producer(settings, safe=True, max_record_bytes=SMALL_RECORD_BYTES)
    await producer.start()
    try:
        topic = settings.topic("sensors")
        futures = [
            await producer.send(topic, encode_record(s), key=s.sensor_id.encode()) for s in sensors
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return len(sensors)


async def publish_catalogue(settings: StreamSettings, catalogue: Catalogue) -> int:
    """Publish every element set of ``catalogue`` to the catalogue topic (key = NORAD id)."""
    producer = _producer(settings, safe=True, max_record_bytes=SMALL_RECORD_BYTES)
    await producer.start()
    try:
        topic = settings.topic("catalogue")
        futures = []
        for i in range(len(catalogue)):
            key, value = encode_element_set(catalogue.element_set(i))
            futures.append(await producer.send(topic, value, key=key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return len(catalogue)


async def publish_frames(
    settings: StreamSettings,
    frames: Iterable[Frame],
    sensors: Mapping[str, Sensor] | Iterable[Sensor] = (),
    *,
    speed: float | None = None,
    progress: bool = True,
    total: int | None = None,
    create_topics: bool = True,
) -> ReplaySummary:
    """Publish ``sensors`` then ``frames`` (key = sensor id).

    ``speed`` ``None`` publishes as fast as the broker takes them; ``1.0`` reproduces the
    event-time spacing of the frames, ``10`` ten times faster. Returns when every frame is
    acknowledged by the broker.
    """
    from tqdm import tqdm

    if speed is not None and speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    if create_topics:
        await ensure_topics_async(settings)
    sensor_list = list(sensors.values() if isinstance(sensors, Mapping) else sensors)
    summary = ReplaySummary(started_s=time.time())
    summary.sensors = await publish_sensors(settings, sensor_list)
    producer = _producer(settings, safe=False, max_record_bytes=settings.max_message_bytes)
    await producer.start()
    topic = settings.topic("frames")
    pending: list[asyncio.Future] = []

    try:
        first_event_s: float | None = None
        wall_start = time.monotonic()
        for frame in tqdm(
            frames, total=total, unit="frame", desc="replay", disable=not progress, leave=False
        ):
            event_s = frame.time.timestamp()
            if speed is not None:
                if first_event_s is None:
                    first_event_s = event_s
                delay = wall_start + (event_s - first_event_s) / speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            pending.append(
                await producer.send(topic, encode_record(frame), key=frame.sensor_id.encode())
            )
            summary.frames += 1
            summary.detections += len(frame.detections)
            if len(pending) >= 1000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    summary.finished_s = time.time()
    return summary

"""The worker's local table store is a cache of the changelog; when it is ahead, rebuild it.

With ``store=rocksdb://`` each frames partition's slice of the state table lives on disk
(``<data_dir>/<app id>/v1/tables/<table>-<partition>.db``), together with the changelog offset
it was read up to. After the broker lost its data (the embedded broker keeps everything in
memory, so a restart empties it) that offset is beyond the changelog's end, and Faust stops
the worker with ``ConsistencyError ... (719 > -1)``, on every start. The changelog is the truth:
:func:`rebuild_stale_store` finds the partitions whose store is ahead of it, says so in one log
line and deletes their files, so Faust restores them from what the broker has.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from .settings import StreamSettings

__all__ = ["OFFSET_KEY", "persisted_offsets", "rebuild_stale_store", "stale_partitions"]

log = logging.getLogger(__name__)

#: The key under which Faust's rocksdb store keeps the last changelog offset it applied.
OFFSET_KEY = b"__faust\x00offset__"


def _partition_paths(settings: StreamSettings) -> dict[int, Path]:
    tables = settings.data_dir.resolve() / settings.faust_app_id / "v1" / "tables"
    return {
        p: tables / f"{settings.state_table}-{p}.db"
        for p in range(settings.frames_partitions)
        if (tables / f"{settings.state_table}-{p}.db").is_dir()
    }


def persisted_offsets(settings: StreamSettings) -> dict[int, int]:
    """``{partition: last changelog offset applied}`` of the local rocksdb store (only the
    partitions that have one); the files are opened read-only and closed again."""
    import rocksdict

    offsets = {}
    for partition, path in _partition_paths(settings).items():
        db = rocksdict.Rdict(
            str(path),
            options=rocksdict.Options(raw_mode=True),
            access_type=rocksdict.AccessType.read_only(),
        )
        try:
            value = db.get(OFFSET_KEY)
        finally:
            db.close()
        if value is not None:
            offsets[partition] = int(value)
    return offsets


async def _changelog_ends(settings: StreamSettings) -> dict[int, int]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap,
        group_id=None,
        client_id=f"{settings.faust_app_id}-store-check",
        **settings.client_security(),
    )
    await consumer.start()
    try:
        tps = [
            TopicPartition(settings.changelog_topic, p) for p in range(settings.frames_partitions)
        ]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return {tp.partition: end for tp, end in ends.items()}


def stale_partitions(persisted: dict[int, int], ends: dict[int, int]) -> dict[int, tuple[int, int]]:
    """``{partition: (persisted offset, last changelog offset)}`` where the store is ahead."""
    return {
        p: (offset, ends[p] - 1)
        for p, offset in persisted.items()
        if p in ends and offset > ends[p] - 1
    }


def rebuild_stale_store(settings: StreamSettings) -> list[int]:
    """Delete the local store of every partition that is ahead of its changelog (see the
    module docstring); returns those partitions. A memory store has nothing to check."""
    if not settings.store.startswith("rocksdb"):
        return []
    persisted = persisted_offsets(settings)
    if not persisted:
        return []
    stale = stale_partitions(persisted, asyncio.run(_changelog_ends(settings)))
    if not stale:
        return []
    shown = ", ".join(f"partition {p}: {a} > {b}" for p, (a, b) in sorted(stale.items()))
    log.warning(
        "local store ahead of the changelog %s (%s): the broker has lost data (restarted empty?); "
        "the store is only a cache, rebuilding it from the changelog",
        settings.changelog_topic,
        shown,
    )
    paths = _partition_paths(settings)
    for partition in stale:
        shutil.rmtree(paths[partition])
    return sorted(stale)

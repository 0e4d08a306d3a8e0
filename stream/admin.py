"""Topic administration: creating the service's topics up front, and asking what the broker is.

A topic auto-created by a producer or a metadata request gets the broker's default partition
count, and Faust refuses to start a table whose changelog has a partition count other than its
source topic's. So every command that writes or reads (worker, replay, consume, demo) first
creates all topics of :meth:`StreamSettings.topic_specs
<orbitlink.stream.settings.StreamSettings.topic_specs>` (:func:`ensure_topics`); creation is
idempotent, and a topic that exists with a different partition count or cleanup policy is a
:class:`TopicMismatchError` naming it. Nothing here asks for metadata of a topic before creating
it: Tansu auto-creates a topic on a metadata request (see :mod:`~orbitlink.stream.tansu`).

::

    create_topics("127.0.0.1:9092", {"orbitlink.frames": (8, False),
                                     "orbitlink.sensors": (1, True)})
    ensure_topics(settings)                          # every topic of StreamSettings
    describe_broker("127.0.0.1:9092")["kind"]        # 'tansu' or 'kafka'
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .probe import BrokerError, bootstrap_from_url

if TYPE_CHECKING:
    from .settings import StreamSettings

__all__ = [
    "TopicMismatchError",
    "TopicSpec",
    "create_topics",
    "create_topics_async",
    "describe_broker",
    "ensure_topics",
    "ensure_topics_async",
]

# Kafka error code for CreateTopics on an existing name.
_TOPIC_ALREADY_EXISTS = 36


class TopicMismatchError(BrokerError):
    """A topic exists already with a partition count other than the one asked for."""


@dataclass(frozen=True)
class TopicSpec:
    """What a topic should look like: partition count, whether its log is compacted, and the
    largest record it accepts (``max.message.bytes``; ``None`` keeps the broker's default,
    about 1 MB on Apache Kafka)."""

    partitions: int
    compacted: bool = False
    max_message_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {self.partitions}")
        if self.max_message_bytes is not None and self.max_message_bytes < 1:
            raise ValueError(f"max_message_bytes must be >= 1, got {self.max_message_bytes}")

    def topic_configs(self) -> dict[str, str]:
        configs = {"cleanup.policy": "compact"} if self.compacted else {}
        if self.max_message_bytes is not None:
            configs["max.message.bytes"] = str(self.max_message_bytes)
        return configs


def _normalise_specs(topics: Mapping[str, TopicSpec | tuple[int, bool]]) -> dict[str, TopicSpec]:
    specs = {}
    for name, spec in topics.items():
        if not name:
            raise ValueError("topic name must not be empty")
        if isinstance(spec, TopicSpec):
            specs[name] = spec
        else:
            partitions, compacted = spec
            specs[name] = TopicSpec(int(partitions), bool(compacted))
    return specs


def _admin_client(
    bootstrap: str, timeout_s: float, security: Mapping[str, Any] | None = None
) -> Any:
    """An (unstarted) aiokafka admin client for ``bootstrap`` (URL or host:port), with the
    TLS/SASL options ``security`` (:meth:`StreamSettings.client_security`)."""
    from aiokafka.admin import AIOKafkaAdminClient

    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_from_url(bootstrap),
        request_timeout_ms=int(timeout_s * 1000),
        client_id="orbitlink-admin",
        **(security or {}),
    )


async def create_topics_async(
    bootstrap: str,
    topics: Mapping[str, TopicSpec | tuple[int, bool]],
    *,
    timeout_s: float = 30.0,
    security: Mapping[str, Any] | None = None,
) -> dict[str, bool]:
    """Create ``topics`` (``{name: (partitions, compacted)}``) on the broker; idempotent.

    Returns ``{name: True if created now, False if it existed already}``. A topic that exists
    with another partition count raises :class:`TopicMismatchError` (Faust refuses a table whose
    changelog partition count differs from its source topic, and keys would hash to other
    partitions, so this is never silently accepted), and so does one whose cleanup policy
    disagrees: a compacted frames topic would keep only the last frame of each sensor, a
    non-compacted sensors topic would forget sensors after the retention time. Replication
    factor is 1 (single-node brokers); compacted topics get ``cleanup.policy=compact``.
    """
    from aiokafka.admin import NewTopic

    specs = _normalise_specs(topics)
    if not specs:
        return {}
    admin = _admin_client(bootstrap, timeout_s, security)
    await admin.start()
    try:
        new_topics = [
            NewTopic(
                name,
                num_partitions=spec.partitions,
                replication_factor=1,
                topic_configs=spec.topic_configs(),
            )
            for name, spec in specs.items()
        ]
        response = await admin.create_topics(new_topics, timeout_ms=int(timeout_s * 1000))
        created: dict[str, bool] = {}
        existing: list[str] = []
        for topic_error in response.topic_errors:
            name, code = topic_error[0], topic_error[1]
            message = topic_error[2] if len(topic_error) > 2 else None
            if code == 0:
                created[name] = True
            elif code == _TOPIC_ALREADY_EXISTS:
                created[name] = False
                existing.append(name)
            else:
                raise BrokerError(f"creating topic {name!r} failed: Kafka error {code} ({message})")
        if existing:
            # Safe to ask metadata now: these names exist, so nothing gets auto-created.
            described = await admin.describe_topics(existing)
            for entry in described:
                name = entry["topic"]
                if entry["error_code"] != 0:
                    raise BrokerError(
                        f"describing topic {name!r} failed: Kafka error {entry['error_code']}"
                    )
                have = len(entry["partitions"])
                want = specs[name].partitions
                if have != want:
                    raise TopicMismatchError(
                        f"topic {name!r} exists with {have} partitions but {want} are required; "
                        f"delete it or use another topic name/prefix"
                    )
            policies = await _cleanup_policies(admin, existing)
            for name in existing:
                compacted = "compact" in policies[name]
                if compacted != specs[name].compacted:
                    raise TopicMismatchError(
                        f"topic {name!r} exists with cleanup.policy="
                        f"{','.join(sorted(policies[name]))} "
                        f"but must {'' if specs[name].compacted else 'not '}be compacted; "
                        f"delete it or use another topic name/prefix"
                    )
        missing = set(specs) - set(created)
        if missing:
            raise BrokerError(f"broker did not answer for topics {sorted(missing)}")
        await _wait_for_leaders(admin, [name for name, new in created.items() if new], timeout_s)
        return created
    finally:
        await admin.close()


async def _wait_for_leaders(admin: Any, topics: list[str], timeout_s: float) -> None:
    """Return once every partition of ``topics`` has a leader.

    Apache Kafka answers CreateTopics before the new partitions have leaders in its metadata, so
    a consumer assigning them at once could see no partitions. Even after this, the very first
    produce may still meet NotLeaderForPartition for a few milliseconds while the broker takes
    leadership (aiokafka retries it transparently). Only names just created are described, so
    the metadata request cannot auto-create anything.
    """
    if not topics:
        return
    deadline = time.monotonic() + timeout_s
    while True:
        described = await admin.describe_topics(topics)
        waiting = sorted(
            entry["topic"]
            for entry in described
            if entry["error_code"] != 0
            or not entry["partitions"]
            or any(p["error_code"] != 0 or p["leader"] < 0 for p in entry["partitions"])
        )
        if not waiting:
            return
        if time.monotonic() >= deadline:
            raise BrokerError(
                f"topics {waiting} have partitions without a leader after {timeout_s:.0f} s"
            )
        await asyncio.sleep(0.1)


async def _cleanup_policies(admin: Any, topics: list[str]) -> dict[str, set[str]]:
    """``{topic: {"delete"} or {"compact"} or both}`` from DescribeConfigs.

    Tansu lists only the configs set on the topic, Kafka all of them; a missing entry is
    Kafka's default, ``delete``.
    """
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in topics]
    )
    policies = {name: {"delete"} for name in topics}
    for response in responses:
        for error_code, error_message, _type, name, entries in response.resources:
            if error_code != 0:
                raise BrokerError(
                    f"describing configs of topic {name!r} failed: Kafka error {error_code} "
                    f"({error_message})"
                )
            for entry in entries:
                if entry[0] == "cleanup.policy" and entry[1]:
                    policies[name] = {p.strip() for p in entry[1].split(",") if p.strip()}
    return policies


def _run_coroutine_sync(coro: Any) -> Any:
    """Run ``coro`` to completion from sync code, even when this thread has a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from inside an event loop (a Faust startup hook, a notebook): run on a helper thread.
    result: dict[str, Any] = {}

    def runner() -> None:
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=runner, name="orbitlink-admin")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def create_topics(
    bootstrap: str,
    topics: Mapping[str, TopicSpec | tuple[int, bool]],
    *,
    timeout_s: float = 30.0,
    security: Mapping[str, Any] | None = None,
) -> dict[str, bool]:
    """Blocking form of :func:`create_topics_async` (same arguments, result and errors)."""
    return _run_coroutine_sync(
        create_topics_async(bootstrap, topics, timeout_s=timeout_s, security=security)
    )


def describe_broker(
    bootstrap: str, *, timeout_s: float = 10.0, security: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``{'cluster_id', 'kind': 'tansu'|'kafka', 'brokers': [...]}`` of the cluster at
    ``bootstrap``.

    Tansu names its cluster ``tansu_cluster`` unless told otherwise (and
    :class:`~orbitlink.stream.tansu.EmbeddedBroker` keeps a name containing "tansu"); Apache
    Kafka's KRaft cluster ids are random base64 UUIDs.
    """

    async def describe() -> dict[str, Any]:
        admin = _admin_client(bootstrap, timeout_s, security)
        await admin.start()
        try:
            return await admin.describe_cluster()
        finally:
            await admin.close()

    cluster = _run_coroutine_sync(describe())
    cluster_id = str(cluster.get("cluster_id") or "")
    return {
        "cluster_id": cluster_id,
        "kind": "tansu" if "tansu" in cluster_id.lower() else "kafka",
        "brokers": cluster.get("brokers", []),
    }


def ensure_topics(settings: StreamSettings, *, timeout_s: float = 30.0) -> dict[str, bool]:
    """Create every topic of ``settings`` that does not exist; ``{name: created_now}``."""
    return create_topics(
        settings.bootstrap,
        settings.topic_specs(),
        timeout_s=timeout_s,
        security=settings.client_security(),
    )


async def ensure_topics_async(
    settings: StreamSettings, *, timeout_s: float = 30.0
) -> dict[str, bool]:
    """:func:`ensure_topics` from inside an event loop."""
    return await create_topics_async(
        settings.bootstrap,
        settings.topic_specs(),
        timeout_s=timeout_s,
        security=settings.client_security(),
    )

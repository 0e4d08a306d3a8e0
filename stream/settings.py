"""Settings of the stream service: broker, topic names, partition counts, worker tuning.

Every field can be set three ways, later ones winning: its default, an environment variable
``ORBITLINK_<FIELD>`` (upper case, e.g. ``ORBITLINK_BROKER=kafka://10.0.0.5:9092``), and a CLI
flag. Defaults work against the embedded broker started by ``orbitlink broker``.

``topic_prefix`` is prepended to every topic name *and* to the Faust application id (hence to
the consumer group and the changelog topic), so several deployments or test runs can share one
broker without seeing each other's messages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .admin import TopicSpec

__all__ = ["ENV_PREFIX", "StreamSettings", "default_store"]

ENV_PREFIX = "ORBITLINK_"


def default_store() -> str:
    """``rocksdb://`` when the rocksdict binding is importable, else ``memory://``."""
    try:
        import rocksdict  # noqa: F401
    except ImportError:
        return "memory://"
    return "rocksdb://"


class StreamSettings(BaseModel):
    """Everything the worker, replay, consume and demo commands need to find each other."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    broker: str = Field(
        default="kafka://127.0.0.1:9092",
        description="Broker URL(s), kafka://host:port[;host:port...]",
    )
    topic_prefix: str = Field(default="", description="Prepended to topic names and app id")
    app_id: str = Field(default="orbitlink", description="Faust app id (consumer group)")

    frames_topic: str = "orbitlink.frames"
    sensors_topic: str = "orbitlink.sensors"
    catalogue_topic: str = "orbitlink.catalogue"
    tracks_topic: str = "orbitlink.tracks"
    associations_topic: str = "orbitlink.associations"
    deadletter_topic: str = "orbitlink.deadletter"
    state_table: str = Field(
        default="tracker-state", description="Faust table of per-sensor tracker state"
    )

    frames_partitions: int = Field(
        default=4, ge=1, description="Partitions of frames (and the state changelog)"
    )
    output_partitions: int = Field(
        default=4, ge=1, description="Partitions of tracks and associations"
    )
    input_partitions: int = Field(
        default=1, ge=1, description="Partitions of the compacted sensors/catalogue"
    )
    deadletter_partitions: int = Field(default=1, ge=1)

    store: str = Field(
        default_factory=default_store, description="Faust table store: rocksdb:// or memory://"
    )
    data_dir: Path = Field(
        default=Path(".orbitlink-data"), description="Faust data directory (rocksdb tables)"
    )
    catalog: Path | None = Field(default=None, description="TLE file or directory loaded at start")
    sensors: Path | None = Field(default=None, description="Sensors JSON loaded at start")
    pipeline_settings: Path | None = Field(
        default=None,
        description="JSON of tracker/correlation settings "
        "(tracking.pipeline.load_pipeline_settings)",
    )

    session_timeout_s: float = Field(
        default=30.0, gt=0, description="Consumer group session timeout"
    )
    heartbeat_interval_s: float = Field(default=3.0, gt=0)
    commit_interval_s: float = Field(
        default=1.0, gt=0, description="How often processed offsets are committed"
    )
    changelog_batch_bytes: int = Field(
        default=1,
        ge=1,
        description="Faust producer max batch size in bytes; 1 = one record per batch, which "
        "keeps end offsets right on the embedded Tansu broker",
    )
    max_message_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024 * 1024,
        description="Largest record the service writes or accepts on the frames, changelog "
        "and dead-letter topics: a busy sensor's tracker state runs to megabytes "
        "(~200 bytes a track), beyond the broker's 1 MB default",
    )
    output_batch_bytes: int = Field(
        default=65536, ge=1, description="Batch size of the tracks/associations producer"
    )
    output_linger_ms: int = Field(default=2, ge=0)
    unknown_sensor_wait_s: float = Field(
        default=5.0,
        ge=0,
        description="How long a frame of an unknown sensor waits for the sensors topic to "
        "catch up before it is dead-lettered",
    )
    web_port: int | None = Field(default=None, description="Faust web view port; unset = off")
    metrics_interval_s: float = Field(default=10.0, gt=0, description="Metrics log period")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("broker")
    @classmethod
    def _check_broker(cls, value: str) -> str:
        value = value.strip()
        if "://" not in value:
            value = f"kafka://{value}"
        if not value.startswith("kafka://"):
            raise ValueError(f"broker must be a kafka:// URL, got {value!r}")
        return value

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> StreamSettings:
        """Defaults, then ``ORBITLINK_*`` variables, then ``overrides`` that are not None."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            text = environ.get(ENV_PREFIX + name.upper())
            if text is not None and text != "":
                values[name] = text
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The ``ORBITLINK_*`` variables reproducing these settings (for subprocesses)."""
        env = {}
        for name, value in self.model_dump().items():
            if value is not None:
                env[ENV_PREFIX + name.upper()] = str(value)
        return env

    # -- derived names ----------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """``host:port[,host:port]`` for aiokafka clients."""
        return self.broker.removeprefix("kafka://").replace(";", ",")

    @property
    def faust_app_id(self) -> str:
        return f"{self.topic_prefix}{self.app_id}"

    def topic(self, role: str) -> str:
        """Full topic name of a role: frames, sensors, catalogue, tracks, associations,
        deadletter."""
        return self.topic_prefix + getattr(self, f"{role}_topic")

    @property
    def changelog_topic(self) -> str:
        """Faust's name for the state table's changelog (``<app id>-<table>-changelog``)."""
        return f"{self.faust_app_id}-{self.state_table}-changelog"

    def topic_specs(self) -> dict[str, TopicSpec]:
        """Every topic the service uses, with its partition count, compaction and size limit.

        The changelog must have exactly the frames' partition count: Faust writes the state of
        a frame's sensor to the changelog partition of the frame's partition.
        """
        large = self.max_message_bytes
        return {
            self.topic("frames"): TopicSpec(self.frames_partitions, False, large),
            self.topic("sensors"): TopicSpec(self.input_partitions, True),
            self.topic("catalogue"): TopicSpec(self.input_partitions, True),
            self.topic("tracks"): TopicSpec(self.output_partitions, False),
            self.topic("associations"): TopicSpec(self.output_partitions, False),
            self.topic("deadletter"): TopicSpec(self.deadletter_partitions, False, large),
            self.changelog_topic: TopicSpec(self.frames_partitions, True, large),
        }

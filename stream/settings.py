"""Settings of the stream service: broker, topic names, partition counts, worker tuning.

:class:`StreamSettings` follows the project's settings convention
(:class:`orbitlink.tracking.settings.Settings`: frozen, every field documented and validated by
its ``Field``). Every field can be set three ways, later ones winning: its default, an
environment variable ``ORBITLINK_<FIELD>`` (upper case, e.g.
``ORBITLINK_BROKER=kafka://10.0.0.5:9092``), and a CLI flag ``--<field>`` (with dashes; the
commands offer the fields they use). ``catalogue`` keeps its older outside spelling:
``ORBITLINK_CATALOG`` and ``--catalog`` (:func:`outside_name`). Defaults work against the
embedded broker started by ``orbitlink broker``.

``topic_prefix`` is prepended to every topic name *and* to the Faust application id (hence to
the consumer group and the changelog topic), so several deployments or test runs can share one
broker without seeing each other's messages.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from orbitlink.tracking.settings import Settings

from .admin import TopicSpec

__all__ = [
    "ENV_PREFIX",
    "SMALL_RECORD_BYTES",
    "StreamSettings",
    "default_store",
    "outside_name",
]

ENV_PREFIX = "ORBITLINK_"

#: The record limit of the topics of small records (sensors, element sets, tracks,
#: associations): Apache Kafka's default, set on the topics explicitly so that it holds on every
#: broker, and enforced by our producers, as the embedded broker does not enforce it.
SMALL_RECORD_BYTES = 1024 * 1024

#: The consumer session timeout by broker kind when the settings leave it out (see
#: ``StreamSettings.session_timeout_s`` and docs/deployment.md for the measurements).
DEFAULT_SESSION_TIMEOUT_S = {"kafka": 6.0, "tansu": 2.0}

#: Broker URL schemes: plain Kafka protocol, or over TLS.
BROKER_SCHEMES = ("kafka://", "kafka+ssl://")


def default_store() -> str:
    """``rocksdb://`` when the rocksdict binding is importable, else ``memory://``."""
    try:
        import rocksdict  # noqa: F401
    except ImportError:
        return "memory://"
    return "rocksdb://"


def outside_name(field: str) -> str:
    """The name a :class:`StreamSettings` field goes by outside Python, in its environment
    variable and its CLI flag: the field's own, or the older spelling it keeps (its
    serialization alias: ``catalogue`` is ``catalog``)."""
    return StreamSettings.model_fields[field].serialization_alias or field


class StreamSettings(Settings):
    """Everything the worker, replay, consume and demo commands need to find each other."""

    # Values arrive as text (environment variables, flags), so they are converted, not strict.
    model_config = ConfigDict(strict=False)

    broker: str = Field(
        "kafka://127.0.0.1:9092",
        description="Broker URL(s): kafka://host:port[;host:port...], kafka+ssl://... for "
        "TLS, or host:port.",
    )
    topic_prefix: str = Field(
        "", description="Prefix of every topic name and of the app id; empty = none."
    )
    app_id: str = Field("orbitlink", description="Faust app id, which is the consumer group.")

    frames_topic: str = Field("orbitlink.frames", description="Frames (input), by sensor id.")
    sensors_topic: str = Field(
        "orbitlink.sensors", description="Sensor definitions (input, compacted)."
    )
    catalogue_topic: str = Field(
        "orbitlink.catalogue", description="Element sets (input, compacted), by NORAD id."
    )
    tracks_topic: str = Field("orbitlink.tracks", description="Track updates (output).")
    associations_topic: str = Field(
        "orbitlink.associations", description="Associations with the catalogue (output)."
    )
    deadletter_topic: str = Field(
        "orbitlink.deadletter", description="Input messages that could not be used (output)."
    )
    alerts_topic: str = Field(
        "orbitlink.alerts", description="Model-monitoring alerts (output, docs/monitoring.md)."
    )
    state_table: str = Field(
        "tracker-state", description="Faust table of per-sensor tracker state."
    )
    tracklets_topic: str = Field(
        "orbitlink.uct-tracklets",
        description="Tracklets of finished UCT tracks (internal, one partition): frames "
        "agent to linker agent, by track id.",
    )
    uct_objects_topic: str = Field(
        "orbitlink.uct-objects",
        description="Provisional objects (output, compacted), by uct_id: the last record of "
        "an id is its state.",
    )
    linker_table: str = Field(
        "linker-state", description="Faust table of the provisional catalogue's state."
    )
    identify_interval_s: float = Field(
        30.0,
        gt=0,
        description="How often the worker looks for new element sets to identify provisional "
        "objects with.",
    )
    link_in_child_process: bool = Field(
        True,
        description="Link UCT tracklets (orbit determination, tens of milliseconds to seconds "
        "each) in a child process of the worker, so that the frames it processes meanwhile "
        "neither wait nor share the interpreter with it; false: in a thread of the worker.",
    )

    frames_partitions: int = Field(
        4, ge=1, description="Partitions of the frames topic and of the state changelog."
    )
    output_partitions: int = Field(
        4, ge=1, description="Partitions of the tracks and associations topics."
    )
    input_partitions: int = Field(
        1, ge=1, description="Partitions of the compacted sensors and catalogue topics."
    )
    deadletter_partitions: int = Field(1, ge=1, description="Partitions of the dead-letter topic.")
    alerts_partitions: int = Field(1, ge=1, description="Partitions of the alerts topic.")

    store: str = Field(
        default_factory=default_store,
        description="Faust table store: rocksdb:// (the default, if rocksdict is installed) "
        "or memory://.",
    )
    data_dir: Path = Field(
        Path(".orbitlink-data"), description="Where the worker's rocksdb tables live."
    )
    catalogue: Path | None = Field(
        None,
        # The environment variable and the flag keep the older spelling: ORBITLINK_CATALOG.
        serialization_alias="catalog",
        description="TLE/OMM file or folder: the worker loads it at start (replay --offline "
        "correlates with it).",
    )
    sensors: Path | None = Field(
        None,
        description="Sensors JSON: the worker loads it at start (replay publishes it before "
        "the frames).",
    )
    pipeline_settings: Path | None = Field(
        None,
        description="JSON of tracker/correlation settings (docs/tracking.md); what it leaves "
        "out keeps its default.",
    )

    session_timeout_s: float | None = Field(
        None,
        gt=0,
        description="Consumer session timeout: how soon a dead worker's partitions move. None: "
        "6 s on Apache Kafka (a stock broker's least), 2 s on the embedded Tansu (whose "
        "first join waits half of it and which drops a dead member only after ~1.5 of it).",
    )
    heartbeat_interval_s: float | None = Field(
        None,
        gt=0,
        description="Consumer heartbeat period, well under a third of the session timeout. "
        "None: a sixth of it.",
    )
    group_instance_id: str | None = Field(
        None,
        min_length=1,
        description="Static group membership (Kafka's group.instance.id): a worker restarted "
        "under the same id takes its partitions back at once instead of after the session "
        "timeout. Unique per worker and stable across its restarts (a pod name, say); None: "
        "dynamic membership.",
    )
    commit_interval_s: float = Field(
        1.0, gt=0, description="How often processed offsets are committed."
    )
    fetch_max_wait_ms: int = Field(
        20,
        ge=1,
        le=60_000,
        description="Longest the worker's consumer lets the broker hold a fetch for frames. "
        "Apache Kafka answers as soon as a frame arrives; the embedded Tansu holds the fetch "
        "to the end, so this bounds a frame's wait there (Faust's own is 1,500 ms).",
    )
    changelog_batch_bytes: int = Field(
        1,
        ge=1,
        description="Faust producer max batch size in bytes; 1 = one record per batch, which "
        "keeps end offsets right on the embedded Tansu broker.",
    )
    max_message_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024 * 1024,
        description="Largest record the service writes or accepts on the frames, changelog "
        "and dead-letter topics: a busy sensor's tracker state runs to megabytes "
        "(~200 bytes a track), beyond the broker's 1 MB default.",
    )
    output_batch_bytes: int = Field(
        65536, ge=1, description="Batch size of the tracks/associations producer."
    )
    output_linger_ms: int = Field(
        2, ge=0, description="How long the tracks/associations producer waits to fill a batch."
    )
    stage_times_path: Path | None = Field(
        None,
        description="Append each processed frame's stage times to this JSON-lines file "
        "(stream/stagetimes.py; what the stream benchmark's latency breakdown reads).",
    )
    unknown_sensor_wait_s: float = Field(
        5.0,
        ge=0,
        description="How long a frame of an unknown sensor waits for the sensors topic to "
        "catch up before it is dead-lettered.",
    )
    max_state_bytes: int = Field(
        128 * 1024 * 1024,
        ge=1024 * 1024,
        description="Largest tracker state a sensor may have (it is stored in pieces when one "
        "record cannot hold it); a frame that would grow it beyond is dead-lettered.",
    )
    max_frame_ahead_s: float = Field(
        86400.0,
        gt=0,
        description="How far after the worker's clock a frame may be dated; later ones are "
        "dead-lettered as implausible.",
    )
    max_frame_jump_s: float = Field(
        30 * 86400.0,
        gt=0,
        description="Largest step forward from a sensor's last frame that recorded (not live) "
        "frames may take at once; see frame_jump_confirm.",
    )
    frame_jump_confirm: int = Field(
        3,
        ge=1,
        description="How many frames in a row must agree on a larger step before the sensor "
        "follows it (the frames before are dead-lettered).",
    )
    web_port: int | None = Field(
        None,
        description="Port of Faust's web view on 127.0.0.1, which serves the Prometheus "
        "metrics at /metrics; unset = off.",
    )
    web_host: str = Field(
        "127.0.0.1",
        description="Address the web view binds: this machine only by default; 0.0.0.0 "
        "inside a container network for a Prometheus in another container.",
    )
    monitor: bool = Field(
        True, description="Watch the tracker and the correlation and publish alerts."
    )
    monitor_settings: Path | None = Field(
        None,
        description="JSON of model-monitoring windows and thresholds (docs/monitoring.md); "
        "what it leaves out keeps its default.",
    )
    web_tables: bool = Field(
        False,
        description="Let the web view serve the state table (/table/...): every sensor's "
        "tracker state, unauthenticated; off unless asked.",
    )
    metrics_interval_s: float = Field(10.0, gt=0, description="Period of the metrics log line.")
    shutdown_timeout_s: float = Field(
        10.0,
        gt=0,
        description="How long a stopping worker may take to hand over (commit, leave the "
        "group) before it exits anyway, as when the broker is gone.",
    )
    ssl_cafile: Path | None = Field(
        None,
        description="CA certificate(s) (PEM) to verify the broker by, for kafka+ssl:// "
        "(default: the system's).",
    )
    ssl_certfile: Path | None = Field(
        None, description="Client certificate (PEM) for brokers that authenticate clients by TLS."
    )
    ssl_keyfile: Path | None = Field(
        None, description="Private key (PEM) of ssl_certfile, if not in that file."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism, when the broker wants a user name and password."
    )
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: str | None = Field(
        None, description="SASL password (set ORBITLINK_SASL_PASSWORD rather than a flag)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level of the worker."
    )

    @field_validator("broker")
    @classmethod
    def _check_broker(cls, value: str) -> str:
        value = value.strip()
        if "://" not in value:
            value = f"kafka://{value}"
        if not value.startswith(BROKER_SCHEMES):
            raise ValueError(f"broker must be a kafka:// or kafka+ssl:// (TLS) URL, got {value!r}")
        return value

    @model_validator(mode="after")
    def _check_security(self) -> StreamSettings:
        if self.sasl_mechanism is not None and not (self.sasl_username and self.sasl_password):
            raise ValueError("sasl_mechanism needs sasl_username and sasl_password")
        if self.sasl_mechanism is None and (self.sasl_username or self.sasl_password):
            raise ValueError("sasl_username and sasl_password need a sasl_mechanism")
        tls_files = (self.ssl_cafile, self.ssl_certfile, self.ssl_keyfile)
        if not self.tls and any(f is not None for f in tls_files):
            raise ValueError("ssl_cafile, ssl_certfile and ssl_keyfile need a kafka+ssl:// broker")
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise ValueError("ssl_keyfile needs ssl_certfile")
        return self

    # -- security ---------------------------------------------------------------------------

    @property
    def tls(self) -> bool:
        """Whether the broker is reached over TLS (a ``kafka+ssl://`` URL)."""
        return self.broker.startswith("kafka+ssl://")

    @property
    def security_protocol(self) -> str:
        """Kafka's name for it: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
        if self.sasl_mechanism is None:
            return "SSL" if self.tls else "PLAINTEXT"
        return "SASL_SSL" if self.tls else "SASL_PLAINTEXT"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of every client (None without TLS): the broker verified against
        ``ssl_cafile`` (or the system's CAs) and its host name, the client's own certificate
        presented when one is set."""
        if not self.tls:
            return None
        context = ssl.create_default_context(
            cafile=str(self.ssl_cafile) if self.ssl_cafile else None
        )
        if self.ssl_certfile is not None:
            context.load_cert_chain(
                str(self.ssl_certfile), str(self.ssl_keyfile) if self.ssl_keyfile else None
            )
        return context

    def client_security(self) -> dict[str, Any]:
        """The security options of an aiokafka client (producer, consumer, admin); empty for
        a plain connection, so callers can always pass ``**settings.client_security()``."""
        if self.security_protocol == "PLAINTEXT":
            return {}
        options: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        if self.sasl_mechanism is not None:
            options.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        return options

    def faust_credentials(self) -> Any:
        """Faust's ``broker_credentials`` for these settings (None for a plain connection)."""
        import faust

        if self.sasl_mechanism is not None:
            return faust.SASLCredentials(
                username=self.sasl_username,
                password=self.sasl_password,
                ssl_context=self.ssl_context(),
                mechanism=self.sasl_mechanism,
            )
        if self.tls:
            return faust.SSLCredentials(self.ssl_context())
        return None

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> StreamSettings:
        """Defaults, then ``ORBITLINK_*`` variables, then ``overrides`` (field names) that are
        not None."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            text = environ.get(ENV_PREFIX + outside_name(name).upper())
            if text is not None and text != "":
                values[name] = text
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The ``ORBITLINK_*`` variables reproducing these settings (for subprocesses)."""
        env = {}
        for name, value in self.model_dump(by_alias=True).items():
            if value is not None:
                env[ENV_PREFIX + name.upper()] = str(value)
        return env

    # -- derived names ----------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """``host:port[,host:port]`` for aiokafka clients."""
        return self.broker.split("://", 1)[1].replace(";", ",")

    @property
    def faust_broker(self) -> str:
        """The broker URL as Faust takes it (``kafka://``: TLS is in the credentials)."""
        return "kafka://" + self.broker.split("://", 1)[1]

    def group_timing(self, broker_kind: str | None = None) -> tuple[float, float]:
        """``(session timeout, heartbeat interval)`` in seconds: the settings, or where they
        are None the defaults for ``broker_kind`` (``"tansu"`` or ``"kafka"``, the default;
        :func:`~orbitlink.stream.admin.describe_broker` tells which)."""
        session_s = self.session_timeout_s
        if session_s is None:
            session_s = DEFAULT_SESSION_TIMEOUT_S.get(broker_kind or "kafka", 6.0)
        heartbeat_s = self.heartbeat_interval_s
        return session_s, session_s / 6 if heartbeat_s is None else heartbeat_s

    @property
    def faust_app_id(self) -> str:
        return f"{self.topic_prefix}{self.app_id}"

    def topic(self, role: str) -> str:
        """Full topic name of a role: frames, sensors, catalogue, tracks, associations,
        deadletter, alerts, tracklets, uct_objects."""
        return self.topic_prefix + getattr(self, f"{role}_topic")

    @property
    def changelog_topic(self) -> str:
        """Faust's name for the state table's changelog (``<app id>-<table>-changelog``)."""
        return f"{self.faust_app_id}-{self.state_table}-changelog"

    @property
    def linker_changelog_topic(self) -> str:
        """Faust's name for the linker table's changelog."""
        return f"{self.faust_app_id}-{self.linker_table}-changelog"

    def topic_specs(self) -> dict[str, TopicSpec]:
        """Every topic the service uses, with its partition count, compaction and size limit.

        The changelog must have exactly the frames' partition count: Faust writes the state of
        a frame's sensor to the changelog partition of the frame's partition.
        """
        large, small = self.max_message_bytes, SMALL_RECORD_BYTES
        return {
            self.topic("frames"): TopicSpec(self.frames_partitions, False, large),
            self.topic("sensors"): TopicSpec(self.input_partitions, True, small),
            self.topic("catalogue"): TopicSpec(self.input_partitions, True, small),
            self.topic("tracks"): TopicSpec(self.output_partitions, False, small),
            self.topic("associations"): TopicSpec(self.output_partitions, False, small),
            self.topic("deadletter"): TopicSpec(self.deadletter_partitions, False, large),
            self.topic("alerts"): TopicSpec(self.alerts_partitions, False),
            self.changelog_topic: TopicSpec(self.frames_partitions, True, large),
            # The provisional catalogue is global: one partition, one owner of the linker.
            self.topic("tracklets"): TopicSpec(1, False, large),
            self.topic("uct_objects"): TopicSpec(1, True, large),
            self.linker_changelog_topic: TopicSpec(1, True, large),
        }

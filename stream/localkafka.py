"""``orbitlink broker --engine kafka``: a persistent single-node Apache Kafka on loopback.

The embedded Tansu broker keeps everything in memory, so a restart loses every topic, offset and
tracker state. For anything longer than a demo, :class:`LocalKafka` runs Apache Kafka (KRaft,
broker and controller in one JVM) from the jars ``ci/kafka.sh`` fetches, with its data in a
folder that outlives it: stopped and started again, it comes back with its topics.

Nothing is downloaded here: ``make kafka`` (``ci/kafka.sh fetch``) fetches the jars once, from
Maven Central, into ``.ci-cache/kafka/<version>``; without them :meth:`LocalKafka.start` says
so. Needs Java 17+ (and Maven for the fetch). The broker is ``ci/kafka.sh`` with
``KAFKA_PERSISTENT=1``, so CI and this command run the same configuration.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from .probe import BrokerError

__all__ = ["KAFKA_VERSION", "LocalKafka"]

REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_VERSION = os.environ.get("KAFKA_VERSION", "4.1.1")


class LocalKafka:
    """A persistent Apache Kafka on ``127.0.0.1:port`` keeping its data in ``data_dir``.

    The port is fixed when the folder is first used (its controller's address is part of the
    formatted storage); a later start on another port is refused.
    """

    def __init__(self, data_dir: str | os.PathLike[str], port: int = 9092) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.script = REPO_ROOT / "ci" / "kafka.sh"

    @property
    def jars_ready(self) -> bool:
        return (REPO_ROOT / ".ci-cache" / "kafka" / KAFKA_VERSION / ".complete").exists()

    @property
    def url(self) -> str:
        return f"kafka://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        return dict(
            os.environ,
            KAFKA_STATE_DIR=str(self.data_dir),
            KAFKA_PORT=str(self.port),
            KAFKA_PERSISTENT="1",
            KAFKA_VERSION=KAFKA_VERSION,
        )

    def _configured_port(self) -> int | None:
        config = self.data_dir / "server.properties"
        if not (self.data_dir / "data" / "meta.properties").exists() or not config.exists():
            return None
        found = re.search(
            r"^advertised\.listeners=PLAINTEXT://[^:]+:(\d+)", config.read_text(), re.M
        )
        return int(found.group(1)) if found else None

    def start(self) -> str:
        """Start it (formatting the folder on first use); returns ``host:port`` once it
        serves. Raises :class:`BrokerError` with what is missing or what went wrong."""
        if not self.script.exists():
            raise BrokerError(f"{self.script} not found: --engine kafka runs from the repository")
        if not self.jars_ready:
            raise BrokerError(
                f"Apache Kafka {KAFKA_VERSION}'s jars are not fetched: run `make kafka` first "
                f"(it fetches org.apache.kafka:kafka_2.13:{KAFKA_VERSION} and its dependencies, "
                f"about 54 MB, from Maven Central into .ci-cache/kafka; needs Java 17 and Maven)"
            )
        configured = self._configured_port()
        if configured is not None and configured != self.port:
            raise BrokerError(
                f"{self.data_dir} holds a broker made for port {configured}: use --port "
                f"{configured}, or another --data-dir"
            )
        done = subprocess.run(
            ["bash", str(self.script), "start"], env=self._env(), capture_output=True, text=True
        )
        if done.returncode != 0:
            raise BrokerError(f"Apache Kafka did not start:\n{done.stderr[-3000:]}")
        return done.stdout.strip().splitlines()[-1]

    def running(self) -> bool:
        done = subprocess.run(
            ["bash", str(self.script), "status"], env=self._env(), capture_output=True
        )
        return done.returncode == 0

    def stop(self) -> None:
        """Stop it (SIGTERM, SIGKILL after 30 s); the data stays."""
        subprocess.run(["bash", str(self.script), "stop"], env=self._env(), capture_output=True)

    def log_path(self) -> Path:
        return self.data_dir / "logs" / "server.log"

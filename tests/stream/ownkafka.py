"""A private Apache Kafka for one test module, from the jars ``ci/kafka.sh`` fetches.

For tests that need a broker configured in a way the shared one is not: TLS and SASL listeners
with a throw-away CA (:func:`make_test_ca`), or a persistent data folder. The broker runs
through ``ci/kafka.sh`` with its own state folder and ports (``KAFKA_STATE_DIR``,
``KAFKA_PORT``, ``KAFKA_EXTRA_CONFIG``, ``KAFKA_FORMAT_ARGS``), and is always stopped.

Such tests carry the ``own_kafka`` marker: CI runs them in its Apache Kafka pass, where the jars
are fetched; elsewhere (``make test`` on a machine that never ran ``make kafka``) they are
skipped, saying why. In the Kafka pass itself missing jars are an error, not a skip.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO_ROOT / "ci" / "kafka.sh"
KAFKA_VERSION = os.environ.get("KAFKA_VERSION", "4.1.1")


def kafka_jars_ready() -> bool:
    return (REPO_ROOT / ".ci-cache" / "kafka" / KAFKA_VERSION / ".complete").exists()


def require_kafka_jars() -> None:
    """Skip (or, in CI's Apache Kafka pass, fail) when the jars are not fetched."""
    if kafka_jars_ready():
        return
    reason = (
        f"Apache Kafka {KAFKA_VERSION} jars not fetched (`make kafka` fetches them; CI's "
        f"Apache Kafka pass runs this test)"
    )
    if os.environ.get("ORBITLINK_TEST_BROKER_KIND") == "kafka":
        pytest.fail(reason)
    pytest.skip(reason)


def run(args: list[str], cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


def make_test_ca(folder: Path) -> dict[str, Path]:
    """A self-signed CA and a server certificate it signed for 127.0.0.1 and localhost, made
    with openssl: ``{"ca": ca.pem, "keystore": key+certificate PEM for Kafka}``."""
    folder.mkdir(parents=True, exist_ok=True)
    days = "2"
    run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", days,
         "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=orbitlink test CA"],
        folder,
    )  # fmt: skip
    run(
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
         "-out", "server.csr", "-subj", "/CN=localhost"],
        folder,
    )  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(
        ["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.pem", "-days", days, "-extfile", "san.ext"],
        folder,
    )  # fmt: skip
    run(
        ["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", "server.key", "-out", "server.p8"], folder
    )
    keystore = folder / "keystore.pem"
    keystore.write_text((folder / "server.p8").read_text() + (folder / "server.pem").read_text())
    return {"ca": folder / "ca.pem", "keystore": keystore}


class OwnKafka:
    """``ci/kafka.sh`` with a state folder of its own; :meth:`start` returns the bootstrap."""

    def __init__(self, state_dir: Path, env: dict[str, str]) -> None:
        self.env = dict(os.environ, KAFKA_STATE_DIR=str(state_dir), **env)
        self.env.setdefault("KAFKA_HEAP_OPTS", "-Xms128m -Xmx512m")

    def _call(self, command: str) -> str:
        done = subprocess.run(
            ["bash", str(KAFKA_SH), command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        if done.returncode != 0:
            raise RuntimeError(f"ci/kafka.sh {command} failed:\n{done.stderr[-3000:]}")
        return done.stdout.strip()

    def start(self) -> str:
        return self._call("start")

    def stop(self) -> None:
        self._call("stop")

    def logs(self) -> str:
        try:
            return self._call("logs")
        except RuntimeError as error:
            return str(error)

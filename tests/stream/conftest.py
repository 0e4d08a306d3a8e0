"""Live-broker fixtures for the stream tests (owner: D2, brokers & CI).

Which broker
------------
By default one embedded Tansu broker (``orbitlink.stream.tansu.EmbeddedBroker``, in-memory, free
port) is started for the whole test session and stopped after it. When
``$ORBITLINK_TEST_BROKER`` is set (``kafka://127.0.0.1:19092`` or ``127.0.0.1:19092``), that
broker is used instead and nothing is started: CI runs the ``kafka``-marked tests a second time
against Apache Kafka 4.x that way (``ci/run-tests.sh``). Mark every test that talks to a live
broker ``@pytest.mark.kafka``.

Fixtures (all names are stable; D1's stream tests use them)
-----------------------------------------------------------
``broker_url``      session  ``'kafka://127.0.0.1:PORT'`` — pass to Faust / ``--broker``.
``bootstrap``       session  ``'127.0.0.1:PORT'`` — aiokafka ``bootstrap_servers``.
``broker_kind``     session  ``'tansu'`` or ``'kafka'`` (``$ORBITLINK_TEST_BROKER_KIND`` overrides
                             detection from the cluster id). Tests that exercise a known Tansu
                             fault branch on it; everything else must pass on both.
``topic_prefix``    function unique per test, e.g. ``'t3f9c2a1b7d04.'``: put it in front of every
                             topic (and consumer-group id) a test uses, so tests sharing one broker
                             never see each other's messages.
``make_topics``     function ``make_topics({"frames": (4, False), "sensors": (1, True)})`` creates
                             ``prefix + name`` with those partition counts (compacted when True) and
                             returns ``{"frames": "<prefix>frames", ...}``.
``spawn``           function start a subprocess in its own process group, logged to a file;
                             every process still alive at teardown is SIGKILLed (whole group).
                             ``spawn([sys.executable, "-m", ...], env={...}, name="w1")`` ->
                             :class:`ManagedProcess`.
``spawn_worker``    function ``spawn_worker("--catalog", path, name="w1", env={...})`` runs
                             ``python -m orbitlink.stream.cli worker ...`` via ``spawn``.
``embedded_broker`` function a private Tansu broker for this test only (always Tansu, whatever
                             ``$ORBITLINK_TEST_BROKER`` says): for tests that stop or restart
                             the broker itself. ``.stop()`` then ``.start()`` reuses its port; its
                             memory storage starts empty again.

Environment for spawned processes: ``PYTHONUNBUFFERED=1``
is always set; ``env=`` adds to (never replaces) the parent environment.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from orbitlink.stream.admin import create_topics, describe_broker
from orbitlink.stream.probe import bootstrap_from_url, wait_for_broker
from orbitlink.stream.tansu import EmbeddedBroker

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_BROKER_ENV = "ORBITLINK_TEST_BROKER"
TEST_BROKER_KIND_ENV = "ORBITLINK_TEST_BROKER_KIND"


# ------------------------------------------------------------------------------------------
# Broker


@pytest.fixture(scope="session")
def _session_broker() -> Iterator[tuple[str, EmbeddedBroker | None]]:
    external = os.environ.get(TEST_BROKER_ENV, "").strip()
    if external:
        bootstrap = bootstrap_from_url(external)
        wait_for_broker(bootstrap, timeout_s=60.0)
        yield bootstrap, None
        return
    broker = EmbeddedBroker()
    broker.start()
    try:
        yield broker.bootstrap, broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def bootstrap(_session_broker: tuple[str, EmbeddedBroker | None]) -> str:
    """``'host:port'`` of the session's broker."""
    return _session_broker[0]


@pytest.fixture(scope="session")
def broker_url(bootstrap: str) -> str:
    """``'kafka://host:port'`` of the session's broker (Faust broker URL, CLI ``--broker``)."""
    return f"kafka://{bootstrap}"


@pytest.fixture(scope="session")
def broker_kind(bootstrap: str) -> str:
    """``'tansu'`` or ``'kafka'``: which implementation the session's broker is."""
    forced = os.environ.get(TEST_BROKER_KIND_ENV, "").strip().lower()
    if forced:
        if forced not in ("tansu", "kafka"):
            raise ValueError(f"${TEST_BROKER_KIND_ENV} must be 'tansu' or 'kafka', got {forced!r}")
        return forced
    return describe_broker(bootstrap)["kind"]


@pytest.fixture
def embedded_broker() -> Iterator[EmbeddedBroker]:
    """A Tansu broker private to one test, stopped at teardown."""
    broker = EmbeddedBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


# ------------------------------------------------------------------------------------------
# Topics


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to this test (``'t<12 hex>.'``) for topic names and group ids."""
    return f"t{uuid.uuid4().hex[:12]}."


@pytest.fixture
def make_topics(
    bootstrap: str, topic_prefix: str
) -> Callable[[Mapping[str, tuple[int, bool]]], dict[str, str]]:
    """Create prefixed topics: ``{short: (partitions, compacted)} -> {short: full_name}``."""

    def make(topics: Mapping[str, tuple[int, bool]]) -> dict[str, str]:
        names = {short: f"{topic_prefix}{short}" for short in topics}
        create_topics(bootstrap, {names[short]: spec for short, spec in topics.items()})
        return names

    return make


# ------------------------------------------------------------------------------------------
# Subprocesses with guaranteed teardown


#: What marks the worker's periodic metrics lines in its log.
METRICS_LINE = "orbitlink.stream.app: metrics:"


class ManagedProcess:
    """A child process in its own process group, with its stdout+stderr in ``log_path``.

    ``kill()`` / ``terminate()`` signal the whole group (a worker's own children die with it).
    """

    def __init__(
        self, popen: subprocess.Popen[bytes], log_path: Path, name: str, args: Sequence[str]
    ) -> None:
        self.popen = popen
        self.log_path = log_path
        self.name = name
        self.args = list(args)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the process group (no-op once it is gone)."""
        try:
            os.killpg(self.popen.pid, signum)
        except ProcessLookupError:
            pass

    def kill(self) -> int:
        """SIGKILL the group (a crash: no cleanup runs) and reap; returns the exit code."""
        self.signal(signal.SIGKILL)
        return self.popen.wait(timeout=30)

    def terminate(self, timeout_s: float = 15.0) -> int:
        """SIGTERM the group, wait ``timeout_s``, then SIGKILL; returns the exit code."""
        self.signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return self.kill()

    def wait(self, timeout_s: float) -> int:
        """Wait for a normal exit; ``subprocess.TimeoutExpired`` if it is still running."""
        return self.popen.wait(timeout=timeout_s)

    def log_text(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""

    def wait_for_log(self, pattern: str, timeout_s: float = 60.0) -> re.Match[str]:
        """Wait until the log matches regex ``pattern``; fails the test with the log otherwise."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        while True:
            match = regex.search(self.log_text())
            if match:
                return match
            if not self.alive():
                pytest.fail(
                    f"{self.name} exited with {self.returncode} before logging {pattern!r}:\n"
                    f"{self.log_tail()}"
                )
            if time.monotonic() >= deadline:
                pytest.fail(
                    f"{self.name} did not log {pattern!r} within {timeout_s} s:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def log_tail(self, n_lines: int = 60) -> str:
        """The last ``n_lines`` of the log, where only the last of the periodic metrics lines
        is kept: a worker that waits logs little else, and they would hide what it did."""
        lines = self.log_text().splitlines()
        metrics = [k for k, line in enumerate(lines) if METRICS_LINE in line]
        dropped = set(metrics[:-1])
        return "\n".join([line for k, line in enumerate(lines) if k not in dropped][-n_lines:])

    def __repr__(self) -> str:
        state = "alive" if self.alive() else f"exited {self.returncode}"
        return f"ManagedProcess({self.name!r}, pid={self.pid}, {state})"


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., ManagedProcess]]:
    """Factory starting :class:`ManagedProcess` es; all are SIGKILLed (by group) at teardown."""
    started: list[ManagedProcess] = []

    def start(
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
        cwd: str | os.PathLike[str] = REPO_ROOT,
    ) -> ManagedProcess:
        name = name or f"proc{len(started) + 1}"
        log_path = tmp_path / f"{name}.log"
        full_env = dict(os.environ)
        full_env["PYTHONUNBUFFERED"] = "1"
        if env:
            full_env.update(env)
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                list(args),
                cwd=cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = ManagedProcess(popen, log_path, name, args)
        started.append(process)
        return process

    yield start

    for process in started:
        if process.alive():
            process.kill()
        # Shown by pytest only for failing tests (captured output).
        print(f"----- {process.name} (pid {process.pid}, exit {process.returncode}) log tail -----")
        print(process.log_tail())


@pytest.fixture
def spawn_worker(
    spawn: Callable[..., ManagedProcess], broker_url: str
) -> Callable[..., ManagedProcess]:
    """``spawn_worker(*cli_args, name=..., env=...)``: an ``orbitlink worker`` on the test
    broker."""

    def start(
        *cli_args: str, name: str | None = None, env: Mapping[str, str] | None = None
    ) -> ManagedProcess:
        args = [
            sys.executable,
            "-m",
            "orbitlink.stream.cli",
            "worker",
            "--broker",
            broker_url,
            *cli_args,
        ]
        return spawn(args, env=env, name=name)

    return start

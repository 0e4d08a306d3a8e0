"""``orbitlink demo``: the whole service on one machine, end to end, then a summary.

1. simulate a scenario from a TLE catalogue (by default the shipped CelesTrak snapshot);
2. start the embedded broker and one worker (subprocesses) with the scenario's catalogue;
3. replay the scenario's frames onto the broker (10x real time by default);
4. read the tracks and associations back and print what came out: frames, detections, tracks,
   correlated objects (NORAD id and name), uncorrelated tracks, throughput and latency (from
   each frame's publish time to its associations' publish time, broker timestamps);
5. score the results against the simulation's truth.

Everything started is stopped at the end, also on Ctrl-C or an error. :class:`LocalStack`
(broker + worker subprocess) is reused by ``bench/stream.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orbitlink.tracking.models import Association
from orbitlink.tracking.verdicts import final_verdicts

from .admin import ensure_topics
from .consume import ConsumedMessage, consume_topic, dedupe_records
from .settings import StreamSettings
from .tansu import EmbeddedBroker

__all__ = [
    "LocalStack",
    "OutputReport",
    "collect_outputs",
    "default_catalog",
    "default_out",
    "run_demo",
]

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_out(now: float | None = None) -> Path:
    """Where a demo keeps its results unless told: ``runs/demo-<UTC date and time>``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    return Path("runs") / f"demo-{stamp}"


def default_catalog() -> Path:
    """The shipped CelesTrak snapshot: ``$ORBITLINK_SHARED_DATA`` or ``../shared/data``."""
    base = Path(os.environ.get("ORBITLINK_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    return base / "catalog" / "celestrak-2026-05-30"


class LocalStack:
    """An embedded broker (unless ``broker_url`` is given) and one worker subprocess.

    ``with LocalStack(catalog=..., sensors=...) as stack:`` returns once the worker has read
    its inputs and joined the group; ``stack.settings`` then addresses them. The worker's log
    is ``stack.worker_log``; ``worker_env`` adds to its environment (``ORBITLINK_*``
    settings); ``session_timeout_s`` None leaves the worker's default, and ``with_worker`` False
    starts none (:meth:`start_worker` does). Exit stops the worker (SIGTERM, then SIGKILL) and
    the broker.
    """

    def __init__(
        self,
        *,
        catalog: Path | None = None,
        sensors: Path | None = None,
        pipeline_settings: Path | None = None,
        broker_url: str | None = None,
        port: int | None = None,
        work_dir: Path | None = None,
        topic_prefix: str = "",
        ready_timeout_s: float = 180.0,
        worker_env: Mapping[str, str] | None = None,
        session_timeout_s: float | None = 10.0,
        with_worker: bool = True,
    ) -> None:
        self.catalog, self.sensors = catalog, sensors
        self.pipeline_settings = pipeline_settings
        self.broker_url, self.port = broker_url, port
        self.topic_prefix = topic_prefix
        self.ready_timeout_s = ready_timeout_s
        self.worker_env = dict(worker_env or {})
        self.session_timeout_s = session_timeout_s
        self.with_worker = with_worker
        self._tmp = None if work_dir else tempfile.TemporaryDirectory(prefix="orbitlink-")
        self.work_dir = Path(work_dir or self._tmp.name)  # type: ignore[union-attr]
        self.broker: EmbeddedBroker | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self._starts = 0  # workers started, each logs "worker ready" once
        self.worker_log = self.work_dir / "worker.log"
        self.settings: StreamSettings | None = None

    def __enter__(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        url = self.broker_url
        if url is None:
            self.broker = EmbeddedBroker(
                port=self.port, log_path=self.work_dir / "broker.log"
            ).start()
            url = self.broker.url
        timeout = (
            {} if self.session_timeout_s is None else {"session_timeout_s": self.session_timeout_s}
        )
        self.settings = StreamSettings(
            broker=url,
            topic_prefix=self.topic_prefix,
            store="memory://",
            data_dir=self.work_dir / "data",
            **timeout,
        )
        ensure_topics(self.settings)
        if self.with_worker:
            self.start_worker()

    def worker_command(self, data_dir: Path | None = None) -> list[str]:
        """The command line of a worker of this stack (``data_dir``: its own, for a second
        worker beside the first)."""
        assert self.settings is not None
        command = [
            sys.executable,
            "-m",
            "orbitlink.stream.cli",
            "worker",
            "--broker",
            self.settings.broker,
            "--topic-prefix",
            self.topic_prefix,
            "--store",
            "memory://",
            "--data-dir",
            str(data_dir or self.work_dir / "data"),
        ]
        if self.session_timeout_s is not None:
            command += ["--session-timeout-s", str(self.session_timeout_s)]
        if self.catalog is not None:
            command += ["--catalog", str(self.catalog)]
        if self.sensors is not None:
            command += ["--sensors", str(self.sensors)]
        if self.pipeline_settings is not None:
            command += ["--pipeline-settings", str(self.pipeline_settings)]
        return command

    def worker_environment(self) -> dict[str, str]:
        """The environment of a worker of this stack."""
        return dict(
            os.environ, PYTHONUNBUFFERED="1", ORBITLINK_METRICS_INTERVAL_S="1", **self.worker_env
        )

    def start_worker(self, *, wait_ready: bool = True) -> None:
        """Start the worker (after :meth:`kill_worker`, a new one); with ``wait_ready``,
        return once it logged "worker ready"."""
        command, env = self.worker_command(), self.worker_environment()
        with open(self.worker_log, "ab" if self._starts else "wb") as log:
            self.worker = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        self._starts += 1
        if not wait_ready:
            return
        deadline = time.monotonic() + self.ready_timeout_s
        while self.worker_log.read_text("utf-8", "replace").count("worker ready") < self._starts:
            if self.worker.poll() is not None:
                raise RuntimeError(
                    f"the worker exited with {self.worker.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the worker was not ready in {self.ready_timeout_s} s:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def frames_seen(self) -> int:
        """``frames=N`` of the worker's latest metrics line (logged every second)."""
        found = re.findall(
            r"metrics(?: \(final\))?: frames=(\d+)", self.worker_log.read_text("utf-8", "replace")
        )
        return int(found[-1]) if found else 0

    def engine_rate(self) -> tuple[int, float]:
        """``(detections, busy seconds)`` of the worker's latest metrics line: what it
        processed and how long it was busy doing so (its own rate, not the replay's pace)."""
        text = self.worker_log.read_text("utf-8", "replace")
        found = re.findall(r"metrics(?: \(final\))?: .*detections=(\d+) .*busy_s=([\d.]+)", text)
        return (int(found[-1][0]), float(found[-1][1])) if found else (0, float("nan"))

    def wait_for_frames(self, n_frames: int, timeout_s: float = 600.0) -> None:
        """Block until the worker has taken ``n_frames`` frames off the topic."""
        deadline = time.monotonic() + timeout_s
        while self.frames_seen() < n_frames:
            if self.worker is None or self.worker.poll() is not None:
                raise RuntimeError(f"the worker stopped:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the worker took {self.frames_seen()} of {n_frames} "
                    f"frames in {timeout_s} s:\n{self.log_tail()}"
                )
            time.sleep(0.5)

    def log_tail(self, n: int = 30) -> str:
        if not self.worker_log.exists():
            return ""
        return "\n".join(self.worker_log.read_text("utf-8", "replace").splitlines()[-n:])

    def kill_worker(self) -> None:
        """SIGKILL the worker (and its process group) and reap it: a crash."""
        worker, self.worker = self.worker, None
        if worker is not None and worker.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=20)

    def stop(self) -> None:
        """Stop the worker, then the broker. Safe to call twice."""
        worker, self.worker = self.worker, None
        if worker is not None and worker.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


@dataclass
class OutputReport:
    """What came out of a run, read back from the broker."""

    frames: int = 0
    detections: int = 0
    tracks: list[dict[str, Any]] = field(default_factory=list)  # deduplicated
    associations: list[dict[str, Any]] = field(default_factory=list)  # deduplicated
    duplicates: int = 0
    latencies_s: list[float] = field(default_factory=list)  # per association record
    first_frame_s: float = float("nan")
    last_output_s: float = float("nan")

    @property
    def throughput_detections_s(self) -> float:
        span = self.last_output_s - self.first_frame_s
        return self.detections / span if span > 0 else float("nan")

    def latency_percentile_s(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(round(q / 100.0 * (len(ordered) - 1))))]


async def _read_all(
    settings: StreamSettings, topic: str, until_idle_s: float
) -> list[ConsumedMessage]:
    messages: list[ConsumedMessage] = []
    await consume_topic(
        settings.bootstrap,
        topic,
        until_idle_s=until_idle_s,
        on_message=messages.append,
        security=settings.client_security(),
    )
    return messages


def collect_outputs(settings: StreamSettings, *, until_idle_s: float = 5.0) -> OutputReport:
    """Read frames, tracks and associations back (until ``until_idle_s`` without news)."""

    async def read() -> tuple[list[ConsumedMessage], ...]:
        return await asyncio.gather(
            _read_all(settings, settings.topic("frames"), until_idle_s),
            _read_all(settings, settings.topic("tracks"), until_idle_s),
            _read_all(settings, settings.topic("associations"), until_idle_s),
        )

    frames_msgs, track_msgs, assoc_msgs = asyncio.run(read())
    report = OutputReport()
    frame_time_s: dict[str, float] = {}
    for message in frames_msgs:
        frame = json.loads(message.value)
        frame_time_s[frame["frame_id"]] = message.timestamp_ms / 1000.0
        report.frames += 1
        report.detections += len(frame.get("detections", []))
    tracks = [json.loads(m.value) for m in track_msgs]
    associations = [json.loads(m.value) for m in assoc_msgs]
    report.tracks = dedupe_records(tracks)
    report.associations = dedupe_records(associations)
    report.duplicates = (
        len(tracks) + len(associations) - len(report.tracks) - len(report.associations)
    )
    seen: set[tuple] = set()
    for message, record in zip(assoc_msgs, associations):
        key = (record["track_id"], record["time"], record["frame_id"])
        if key in seen or record["frame_id"] not in frame_time_s:
            continue
        seen.add(key)
        report.latencies_s.append(message.timestamp_ms / 1000.0 - frame_time_s[record["frame_id"]])
    if frame_time_s:
        report.first_frame_s = min(frame_time_s.values())
    stamps = [m.timestamp_ms / 1000.0 for m in track_msgs + assoc_msgs]
    if stamps:
        report.last_output_s = max(stamps)
    return report


def _write_results(report: OutputReport, results: Path) -> None:
    results.mkdir(parents=True, exist_ok=True)
    for name, records in (("tracks", report.tracks), ("associations", report.associations)):
        with open(results / f"{name}.jsonl", "w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record) + "\n")


def print_summary(
    report: OutputReport,
    *,
    withheld: list[int] | None = None,
    pace_detections_s: float | None = None,
    engine: tuple[int, float] | None = None,
) -> None:
    verdicts = final_verdicts(Association.model_validate(r) for r in report.associations)
    correlated = Counter((v.norad_id, v.name) for v in verdicts.values() if not v.uct)
    ucts = sorted(t for t, v in verdicts.items() if v.uct)
    print(f"\nframes {report.frames}, detections {report.detections}")
    print(
        f"tracks {len({t['track_id'] for t in report.tracks})} "
        f"({len(report.tracks)} track updates, {len(report.associations)} associations, "
        f"{report.duplicates} duplicate records dropped)"
    )
    print(f"correlated objects: {len(correlated)}")
    for (norad_id, name), n_tracks in sorted(correlated.items()):
        print(f"  {norad_id:>6}  {name or '?':<28} {n_tracks} track(s)")
    print(f"uncorrelated tracks (UCTs): {len(ucts)}  {', '.join(ucts)}")
    if withheld is not None:
        print(f"  (objects withheld from the catalogue by the simulator: {withheld})")
    if pace_detections_s is not None:
        print(
            f"replay pace: {pace_detections_s:,.0f} detections/s published (how fast the "
            f"frames were sent, not how fast the engine goes)"
        )
    print(
        f"end to end: {report.throughput_detections_s:,.0f} detections/s from the first frame "
        f"published to the last record published (bound by the pace)"
    )
    if engine is not None and engine[1] > 0:
        detections, busy_s = engine
        print(
            f"engine: {detections / busy_s:,.0f} detections/s of the worker's busy time "
            f"({detections} detections in {busy_s:.1f} s: pipeline, publishing, state)"
        )
    print(
        f"latency frame -> associations: p50 {report.latency_percentile_s(50) * 1e3:.0f} ms, "
        f"p99 {report.latency_percentile_s(99) * 1e3:.0f} ms, "
        f"max {report.latency_percentile_s(100) * 1e3:.0f} ms"
    )


@contextlib.contextmanager
def _dashboard(stack: LocalStack, port: int, log_dir: Path):
    """``orbitlink dashboard`` on the stack's broker, replaying the last hour, for the
    duration of the block: ``(process, url)``."""
    assert stack.settings is not None
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / "dashboard.log", "ab")  # the child keeps it
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orbitlink.stream.cli",
            "dashboard",
            "--broker",
            stack.settings.broker,
            "--port",
            str(port),
            "--since-minutes",
            "60",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process, f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _object_counts(truth_path: Path, min_detections: int) -> tuple[int, int]:
    """``(objects detected at least once, objects detected min_detections times or more)``."""
    truth = json.loads(truth_path.read_text())
    per_object = Counter(n for n in truth.values() if n is not None)
    return len(per_object), sum(c >= min_detections for c in per_object.values())


def print_uct_truth(evaluation: Any, withheld: list[int], names: dict[int, str]) -> None:
    """Each UCT track with the object it really is (the simulation knows): a withheld object
    (a right UCT), a catalogued one (a missed correlation), or clutter."""
    ucts = [t for t in evaluation.tracks if t.verdict_uct]
    print(f"\nuncorrelated tracks (UCTs) against the truth: {len(ucts)}")
    for track in sorted(ucts, key=lambda t: t.track_id):
        norad = track.truth_norad_id
        if norad is None:
            what = "clutter (false alarms)"
        else:
            kind = "withheld object" if norad in withheld else "catalogued object, missed"
            what = f"{kind} {norad} {names.get(norad, '')}".rstrip()
        print(f"  {track.track_id:<22} is {what} ({track.n_detections} detections)")
    found = {t.truth_norad_id for t in ucts}
    unseen = [n for n in withheld if n not in found]
    if unseen:
        print(f"  withheld objects with no UCT: {', '.join(map(str, unseen))}")


def run_demo(
    *,
    catalog: Path | None = None,
    seed: int = 0,
    port: int | None = None,
    out: Path | None = None,
    speed: float | None = 10.0,
    dashboard_port: int = 8080,
    keep_running: bool = False,
) -> int:
    """The ``orbitlink demo`` command; returns the exit code. Everything it makes (scenario,
    results, plot, logs) is kept in ``out``, by default :func:`default_out`. The dashboard runs
    on ``dashboard_port`` while the demo does (and after it with ``keep_running``)."""
    from orbitlink.tracking.catalogue import Catalogue
    from orbitlink.tracking.evaluate import MIN_DETECTIONS, evaluate
    from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors
    from orbitlink.tracking.simulate import simulate_scenario

    from .replay import publish_frames

    catalog = Path(catalog) if catalog is not None else default_catalog()
    if not catalog.exists():
        print(
            f"orbitlink demo: catalogue {catalog} not found (use --catalog PATH)", file=sys.stderr
        )
        return 2
    work = Path(out) if out is not None else default_out()
    print(f"orbitlink demo: everything goes to {work}", flush=True)
    scenario = work / "scenario"
    print(f"[1/5] simulating a scenario from {catalog} (seed {seed}) ...", flush=True)
    summary = simulate_scenario(catalog, scenario, seed=seed)
    seen, trackable = _object_counts(scenario / "truth.json", MIN_DETECTIONS)
    print(
        f"      {summary.n_frames} frames, {summary.n_detections} detections from "
        f"{len(summary.frames_by_sensor)} sensors: {seen} objects detected at least once, "
        f"{trackable} of them {MIN_DETECTIONS} times or more (enough for a track: the score "
        f"below counts those); {len(summary.withheld_norad_ids)} withheld from the catalogue"
    )
    print("[2/5] starting the embedded broker and a worker ...", flush=True)
    with LocalStack(catalog=scenario / "catalog", port=port, work_dir=work / "stack") as stack:
        assert stack.settings is not None
        print(f"      broker {stack.settings.broker}, worker log {stack.worker_log}")
        with _dashboard(stack, dashboard_port, work / "stack") as (dashboard, dashboard_url):
            print(f"      dashboard {dashboard_url} (live while the demo runs)", flush=True)
            frames = list(iter_frames_jsonl(scenario / "frames.jsonl"))
            pace = "as fast as possible" if speed is None else f"{speed:g}x real time"
            print(f"[3/5] replaying {len(frames)} frames ({pace}) ...", flush=True)
            replayed = asyncio.run(
                publish_frames(
                    stack.settings,
                    frames,
                    read_sensors(scenario / "sensors.json"),
                    speed=speed,
                    total=len(frames),
                    create_topics=False,
                )
            )
            stack.wait_for_frames(len(frames))
            print("[4/5] reading tracks and associations back ...", flush=True)
            report = collect_outputs(stack.settings, until_idle_s=2.0)
            engine = stack.engine_rate()
            print_summary(
                report,
                withheld=summary.withheld_norad_ids,
                pace_detections_s=replayed.detections_per_s,
                engine=engine,
            )
            _write_results(report, work / "results")
            print("\n[5/5] scoring against the simulation's truth ...", flush=True)
            plot = work / "results" / "evaluation.png"
            evaluation = evaluate(scenario / "truth.json", work / "results", plot_path=plot)
            print(evaluation.to_table())
            full = Catalogue.from_path(catalog)
            names = {int(n): full.names[i] for i, n in enumerate(full.norad_ids)}
            print_uct_truth(evaluation, summary.withheld_norad_ids, names)
            print(
                f"\nkept in {work}: scenario/ (frames, sensors, truth), results/ (tracks.jsonl, "
                f"associations.jsonl, the plot {plot.name}), stack/ (worker.log, broker.log)"
            )
            if keep_running:
                print(
                    f"\nbroker, worker and dashboard keep running: {dashboard_url} (Ctrl-C stops)",
                    flush=True,
                )
                with contextlib.suppress(KeyboardInterrupt):
                    while dashboard.poll() is None:
                        time.sleep(1.0)
    print(
        "\nthe demo's broker is gone (it kept everything in memory); to read outputs with any "
        "Kafka client, run the streaming commands of the README"
    )
    return 0

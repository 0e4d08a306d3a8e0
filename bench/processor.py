"""The worker's frame processor in process, without Faust: what the stream adds to the pipeline.

``python -m bench.processor`` runs the dense scene of ``bench.stream`` (1,000 targets, ~1,100
detections a frame) through :class:`~orbitlink.stream.processor.FrameProcessor` three ways:
the pipeline alone, the processor with an in-memory sink, and the processor with a
:class:`~orbitlink.stream.sinks.KafkaSink` on a real broker (an embedded Tansu, or
``--broker kafka://host:port``), and prints ms a frame and detections/s. The differences are
the processor's own cost (decode, records, state) and the output producer's. ``--profile``
prints the top of a cProfile of the Kafka run. Measures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path


def _frames_and_pipeline(work: Path):
    from bench.stream import _dense_scene
    from orbitlink.stream.codecs import encode_record
    from orbitlink.stream.demo import default_catalog
    from orbitlink.tracking.catalogue import Catalogue
    from orbitlink.tracking.pipeline import Pipeline, load_pipeline_settings

    settings_path = work / "pipeline-settings.json"
    frames, sensors = _dense_scene(settings_path)
    catalogue = Catalogue.from_path(default_catalog())
    pipeline_settings = load_pipeline_settings(settings_path)

    def pipeline() -> Pipeline:
        return Pipeline(sensors, catalogue, pipeline_settings)

    return frames, [encode_record(f) for f in frames], pipeline


async def _through_processor(settings, pipeline, sink, frames, values) -> float:
    from orbitlink.stream.processor import FrameProcessor

    processor = FrameProcessor(settings, pipeline, sink, {})
    await sink.start()
    try:
        started = time.perf_counter()
        for offset, (frame, value) in enumerate(zip(frames, values)):
            outcome = await processor.handle(
                frame.sensor_id.encode(),
                value,
                topic=settings.topic("frames"),
                partition=0,
                offset=offset,
                published_s=time.time(),
            )
            assert outcome.disposition == "processed", outcome
        return time.perf_counter() - started
    finally:
        await sink.stop()


def run(bootstrap: str, profile: bool, n_frames: int | None) -> None:
    from orbitlink.stream.admin import ensure_topics
    from orbitlink.stream.settings import StreamSettings
    from orbitlink.stream.sinks import KafkaSink, MemorySink

    with tempfile.TemporaryDirectory(prefix="orbitlink-bench-") as tmp:
        frames, values, pipeline = _frames_and_pipeline(Path(tmp))
    frames, values = frames[:n_frames], values[:n_frames]
    n_detections = sum(len(f.detections) for f in frames)
    print(f"dense scene: {len(frames)} frames, {n_detections / len(frames):.0f} detections each")

    def line(label: str, elapsed_s: float) -> None:
        print(
            f"  {label:<44} {elapsed_s / len(frames) * 1e3:7.1f} ms/frame "
            f"{n_detections / elapsed_s:10,.0f} detections/s"
        )

    p = pipeline()
    state = None
    started = time.perf_counter()
    for frame in frames:
        state = p.process(frame, state).state
    line("pipeline alone", time.perf_counter() - started)

    settings = StreamSettings.from_env(  # ORBITLINK_OUTPUT_BATCH_BYTES, say, to try others
        broker=f"kafka://{bootstrap}", topic_prefix=f"bench{uuid.uuid4().hex[:8]}."
    )
    line(
        "processor, in-memory sink",
        asyncio.run(_through_processor(settings, pipeline(), MemorySink(), frames, values)),
    )
    ensure_topics(settings)
    sink = KafkaSink(
        bootstrap, max_batch_size=settings.output_batch_bytes, linger_ms=settings.output_linger_ms
    )
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    elapsed = asyncio.run(_through_processor(settings, pipeline(), sink, frames, values))
    if profiler:
        profiler.disable()
    line(f"processor, KafkaSink on {bootstrap}", elapsed)
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def main(argv: list[str] | None = None) -> None:
    from orbitlink.stream.probe import bootstrap_from_url
    from orbitlink.stream.tansu import EmbeddedBroker

    parser = argparse.ArgumentParser(
        prog="python -m bench.processor", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--broker", help="use this broker instead of an embedded Tansu")
    parser.add_argument("--profile", action="store_true", help="cProfile the Kafka run")
    parser.add_argument("--quick", action="store_true", help="the first 8 frames only")
    args = parser.parse_args(argv if argv is not None else [])
    n_frames = 8 if args.quick else None
    if args.broker:
        run(bootstrap_from_url(args.broker), args.profile, n_frames)
        return
    with EmbeddedBroker() as broker:
        run(broker.bootstrap, args.profile, n_frames)


if __name__ == "__main__":
    main(sys.argv[1:])

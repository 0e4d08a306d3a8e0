"""Running recorded frames through a :class:`~orbitlink.tracking.pipeline.Pipeline` in this
process, writing the records the stream worker would publish.

This is ``orbitlink replay --offline``: the same pipeline as the worker, the same records, in
files instead of topics, so a recorded scenario can be scored (:mod:`.evaluate`) and compared
record for record with a stream run. The UCT tracklets the pipeline hands over go through a
:class:`~orbitlink.tracking.linking.Linker` (:func:`link_uct_tracklets`), whose provisional
objects are written as the worker publishes them on ``orbitlink.uct-objects``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from .catalogue import Catalogue
from .errors import UnknownSensorError
from .models import Association, Frame, Sensor
from .pipeline import Pipeline, PipelineSettings
from .tracklets import Tracklet
from .verdicts import final_verdicts

if TYPE_CHECKING:  # imported when the first tracklet comes: orbit determination's start-up
    from .linking import Linker, LinkerSettings

__all__ = ["OfflineSummary", "link_uct_tracklets", "run_offline"]


@dataclass
class OfflineSummary:
    """Counts from an offline run, and how long it took."""

    frames: int = 0
    detections: int = 0
    duplicate_frames: int = 0
    out_of_order_frames: int = 0
    rejected_frames: int = 0
    track_updates: int = 0
    associations: int = 0
    tracks: int = 0
    correlated_objects: dict[int, str | None] = field(default_factory=dict)
    uct_tracks: int = 0
    uct_tracklets: int = 0
    uct_objects: int = 0
    uct_records: int = 0
    elapsed_s: float = 0.0

    @property
    def detections_per_s(self) -> float:
        return self.detections / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["correlated_objects"] = {str(k): v for k, v in self.correlated_objects.items()}
        data["detections_per_s"] = self.detections_per_s
        return data


def link_uct_tracklets(linker: Linker, tracklets: Iterable[Tracklet], out: TextIO) -> int:
    """Link tracklets into ``linker``'s provisional catalogue in the order given, writing the
    record of every object each change produces (a line of ``uct_objects.jsonl``); returns
    how many records were written."""
    written = 0
    for tracklet in tracklets:
        for obj in linker.link(tracklet):
            out.write(obj.record(linker.settings).to_json() + "\n")
            written += 1
    return written


def _linker(settings: LinkerSettings | None) -> Linker:
    """A linker for the UCT tracklets. Its module is imported here, not with this one: orbit
    determination brings scipy's integrators and optimisers, about a third of a second of
    start-up, which a replay without UCT tracklets (a tracker-only run) never needs."""
    from .linking import Linker, LinkerSettings

    return Linker(settings or LinkerSettings())


def run_offline(
    frames: Iterable[Frame],
    sensors: Mapping[str, Sensor] | Iterable[Sensor],
    catalogue: Catalogue | None,
    out_dir: str | Path,
    *,
    settings: PipelineSettings | None = None,
    progress: bool = True,
    total: int | None = None,
    linker_settings: LinkerSettings | None = None,
) -> OfflineSummary:
    """Run frames through a :class:`Pipeline` in this process, in the order given.

    Writes ``out_dir/tracks.jsonl`` (TrackUpdate records), ``out_dir/associations.jsonl``
    (Association records), ``out_dir/uct_objects.jsonl`` (a UctObjectRecord for every change
    of a provisional object, from the UCT tracklets of each frame), the same records the
    stream worker publishes, and ``out_dir/rejected.jsonl`` with a reason for each frame that
    could not be processed.
    """
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(sensors, catalogue, settings)
    linker: Linker | None = None
    states: dict[str, bytes] = {}
    summary = OfflineSummary()
    track_ids: set[str] = set()
    final: dict[str, Association] = {}  # the last verdict of each track so far
    started = time.perf_counter()
    with (
        (out / "tracks.jsonl").open("wb") as tracks_file,
        (out / "associations.jsonl").open("wb") as associations_file,
        (out / "rejected.jsonl").open("w") as rejected_file,
        (out / "uct_objects.jsonl").open("w") as uct_file,
    ):
        for frame in tqdm(
            frames, total=total, unit="frame", disable=not progress, desc="replay", leave=False
        ):
            summary.frames += 1
            summary.detections += len(frame.detections)
            try:
                result = pipeline.process(frame, states.get(frame.sensor_id))
            except UnknownSensorError as error:
                summary.rejected_frames += 1
                rejected_file.write(
                    json.dumps({"frame_id": frame.frame_id, "reason": str(error)}) + "\n"
                )
                continue
            states[frame.sensor_id] = result.state
            if result.disposition == "duplicate":
                summary.duplicate_frames += 1
            elif result.disposition == "out_of_order":
                summary.out_of_order_frames += 1
            # The records' wire form in bulk (orjson), byte for byte each model's to_json().
            tracks_file.write(result.tracks_json_lines())
            track_ids.update(result.track_batch.track_id)
            associations_file.write(result.associations_json_lines())
            # Frames come in time order: a later frame's verdict on a track replaces the
            # earlier one (the records are written, not kept, so this is done frame by frame).
            final.update(final_verdicts(result.associations))
            summary.track_updates += len(result.track_batch)
            summary.associations += len(result.associations)
            summary.uct_tracklets += len(result.tracklets)
            if result.tracklets and linker is None:
                linker = _linker(linker_settings)
            if linker is not None:
                summary.uct_records += link_uct_tracklets(linker, result.tracklets, uct_file)
    summary.elapsed_s = time.perf_counter() - started
    summary.uct_objects = 0 if linker is None else linker.objects_opened
    summary.tracks = len(track_ids)
    verdicts = Counter(a.uct for a in final.values())
    summary.uct_tracks = verdicts[True]
    summary.correlated_objects = {
        a.norad_id: a.name for a in final.values() if a.norad_id is not None
    }
    return summary

"""Where a frame's time goes inside the worker, frame by frame (for the stream benchmark).

With ``stage_times_path`` set (``ORBITLINK_STAGE_TIMES_PATH``), the frames agent appends one
JSON line per processed frame to that file: the frame's broker timestamp and the wall-clock
instants (Unix s) it reached each stage,

* ``published_s``: the frame's broker timestamp (its producer's send time on both brokers);
* ``received_s``: the agent took it off the stream;
* ``encoded_s``: decoded, through the pipeline, its records written (what the output
  records' broker timestamps are close to: their producer stamps them at send);
* ``delivered_s``: the broker acknowledged every record;
* ``done_s``: the sensor's state written to the table (its changelog send is queued).

:func:`stage_breakdown` turns those lines into per-stage durations. Writing a line costs
microseconds; without the setting nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import numpy as np

__all__ = ["STAGES", "FrameStages", "StageLog", "read_stage_times", "stage_breakdown"]


@dataclass(frozen=True)
class FrameStages:
    """One processed frame's instants (Unix s); ``published_s`` NaN when the broker gave none."""

    frame_id: str
    published_s: float
    received_s: float
    encoded_s: float
    delivered_s: float
    done_s: float


class StageLog:
    """Appends :class:`FrameStages` as JSON lines to a file (line-buffered, so a killed
    worker loses at most the line being written)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._out: IO[str] | None = None

    def write(self, stages: FrameStages) -> None:
        if self._out is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._out = open(self.path, "a", encoding="utf-8", buffering=1)
        self._out.write(json.dumps(asdict(stages)) + "\n")

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def read_stage_times(path: Path) -> list[FrameStages]:
    """The frames a :class:`StageLog` wrote (none if the file is missing)."""
    if not Path(path).exists():
        return []
    with open(path, encoding="utf-8") as lines:
        return [FrameStages(**json.loads(line)) for line in lines if line.strip()]


#: The stages of :func:`stage_breakdown`, in the order a frame goes through them.
STAGES = ("to worker", "behind earlier frames", "pipeline", "delivery", "state write")


def stage_breakdown(frames: Iterable[FrameStages]) -> dict[str, np.ndarray]:
    """Per stage, each frame's time in it (s), frames in processing order.

    * ``to worker``: from its publish until the worker could have taken it, i.e. until it was
      received or, if the worker was still busy with the frame before, until that one was done
      (producer linger, broker, consumer fetch and Faust's stream buffer);
    * ``behind earlier frames``: waiting for the worker to finish the frames before it;
    * ``pipeline``: decode, pipeline, records written; ``delivery``: until the broker acked
      every record (output linger, acks); ``state write``: the table write after it.
    """
    ordered = sorted(frames, key=lambda f: f.received_s)
    previous_done = -np.inf
    stages: dict[str, list[float]] = {name: [] for name in STAGES}
    for frame in ordered:
        published = frame.published_s if np.isfinite(frame.published_s) else frame.received_s
        free = max(published, min(previous_done, frame.received_s))
        stages["to worker"].append(max(frame.received_s - free, 0.0))
        stages["behind earlier frames"].append(max(free - published, 0.0))
        stages["pipeline"].append(frame.encoded_s - frame.received_s)
        stages["delivery"].append(frame.delivered_s - frame.encoded_s)
        stages["state write"].append(frame.done_s - frame.delivered_s)
        previous_done = frame.done_s
    return {name: np.asarray(values) for name, values in stages.items()}

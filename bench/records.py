"""Writing records: pydantic one model at a time against the bulk encoders, on real records.

A scenario of the default network (three minutes, seed 0) runs through the pipeline; its
track updates and associations are then written as JSON Lines four ways, each timed in CPU
microseconds per record (best of 5):

* ``pydantic``: ``model.to_json()`` per model (``model_dump_json``), what every record cost;
* ``orjson``: :func:`orbitlink.tracking.batches.json_lines` over the models, and
  :meth:`~orbitlink.tracking.batches.TrackBatch.to_json_lines` from the tracker's columns;
* ``msgspec``: ``msgspec.json.Encoder`` over the same field dicts, if msgspec is installed
  (it is not a dependency).

Each line says whether the bytes equal pydantic's: they must, for the encoder the engine uses
(orjson); msgspec writes float exponents without their sign (``1e-05`` is fine,
``1.2e+16`` becomes ``1.2e16``), so its bytes differ on some records.

Run: ``python -m bench records`` or ``python -m bench.records [--quick]`` (``--quick``: one
minute of frames, best of 2).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orbitlink.tracking.batches import TrackBatch, json_lines
from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors
from orbitlink.tracking.models import format_time
from orbitlink.tracking.pipeline import Pipeline
from orbitlink.tracking.simulate import ScenarioSettings, simulate_scenario

REPO = Path(__file__).resolve().parent.parent
CATALOG = REPO.parent / "shared" / "data" / "catalog" / "celestrak-2026-05-30"


def _best(function, repeats: int) -> tuple[float, bytes]:
    best, out = float("inf"), b""
    for _ in range(repeats):
        started = time.process_time()
        out = function()
        best = min(best, time.process_time() - started)
    return best, out


def _msgspec_lines(records):
    try:
        import msgspec
    except ImportError:
        return None
    encoder = msgspec.json.Encoder()

    def run() -> bytes:
        out = []
        for record in records:
            values = dict(record.__dict__)
            for name in ("time", "element_epoch"):
                if values.get(name) is not None:
                    values[name] = format_time(values[name])
            out.append(encoder.encode(values) + b"\n")
        return b"".join(out)

    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.records", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one minute of frames, best of 2")
    args = parser.parse_args([] if argv is None else argv)
    repeats = 2 if args.quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        duration = 60.0 if args.quick else 180.0
        simulate_scenario(
            CATALOG, Path(tmp), seed=0, settings=ScenarioSettings(duration_s=duration)
        )
        pipeline = Pipeline(read_sensors(Path(tmp) / "sensors.json"), Catalogue.from_path(CATALOG))
        states: dict[str, bytes] = {}
        results = []
        for frame in iter_frames_jsonl(Path(tmp) / "frames.jsonl"):
            result = pipeline.process(frame, states.get(frame.sensor_id))
            states[frame.sensor_id] = result.state
            results.append(result)
    batches = [r.track_batch for r in results if len(r.track_batch)]
    kinds = {
        "track updates": [t for r in results for t in r.tracks],
        "associations": [a for r in results for a in r.associations],
    }
    print(
        f"real records of {len(results)} frames of the default network; CPU us per record, "
        f"best of {repeats}"
    )
    print(
        f"{'records':>14} {'n':>6} {'encoder':>26} {'us/record':>10} {'vs pydantic':>12} same bytes"
    )
    for kind, records in kinds.items():
        reference_s, reference = _best(
            lambda records=records: b"".join(r.to_json().encode() + b"\n" for r in records),
            repeats,
        )
        ways = {"pydantic model_dump_json": lambda reference=reference: reference}
        ways["orjson json_lines(models)"] = lambda records=records: json_lines(records)
        if kind == "track updates":
            ways["orjson TrackBatch columns"] = lambda: b"".join(
                b.to_json_lines() for b in [TrackBatch(**_fields(b)) for b in batches]
            )
        msgspec_run = _msgspec_lines(records)
        if msgspec_run is not None:
            ways["msgspec (field dicts)"] = msgspec_run
        for name, way in ways.items():
            seconds, out = (
                (reference_s, reference) if name.startswith("pydantic") else _best(way, repeats)
            )
            print(
                f"{kind:>14} {len(records):>6} {name:>26} {1e6 * seconds / len(records):>10.2f} "
                f"{reference_s / seconds:>11.1f}x {'yes' if out == reference else 'NO'}",
                flush=True,
            )


def _fields(batch: TrackBatch) -> dict:
    """A fresh batch's fields (so no encoding is cached from an earlier run)."""
    return {name: getattr(batch, name) for name in TrackBatch.__dataclass_fields__}


if __name__ == "__main__":
    main(sys.argv[1:])

"""A sensor's pipeline state: what it holds, and the older layout it is still read from."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors
from orbitlink.tracking.pipeline import Pipeline, _SensorState
from orbitlink.tracking.simulate import DEFAULT_SENSORS, ScenarioSettings, simulate_scenario


@pytest.fixture(scope="module")
def scenario(catalog_dir: Path, tmp_path_factory):
    where = tmp_path_factory.mktemp("scenario")
    settings = ScenarioSettings(
        duration_s=60.0,
        sensors=tuple(p.replace(cadence_s=max(p.cadence_s, 2.0)) for p in DEFAULT_SENSORS),
    )
    simulate_scenario(catalog_dir, where, seed=3, settings=settings)
    return (
        list(iter_frames_jsonl(where / "frames.jsonl")),
        read_sensors(where / "sensors.json"),
        Catalogue.from_path(where / "catalog"),
    )


def _run(pipeline: Pipeline, frames, states: dict[str, bytes]) -> list[bytes]:
    out = []
    for frame in frames:
        result = pipeline.process(frame, states.get(frame.sensor_id))
        states[frame.sensor_id] = result.state
        out.append(result.tracks_json_lines() + result.associations_json_lines())
    return out


def _as_version_1(state: bytes) -> bytes:
    """The same state in the first layout: the verdicts as a JSON object of their lines."""
    parts = _SensorState._parts(state)
    lines = parts[2].decode().split("\n")[:-1]
    parts[2] = json.dumps(
        {json.loads(line)["track_id"]: line for line in lines}, separators=(",", ":")
    ).encode()
    sizes = struct.pack("<IIII", *map(len, parts))
    return b"ORBITLINK-SENSOR-1\n" + sizes + b"".join(parts)


def test_a_state_in_the_first_layout_carries_on_as_the_current_one(scenario):
    """Half way through a scenario, each sensor's state rewritten in the first layout (as a
    worker of an earlier release left it in its table) gives the same records from there on,
    and the state it writes next is in the current layout."""
    frames, sensors, catalogue = scenario
    half = len(frames) // 2
    states: dict[str, bytes] = {}
    _run(Pipeline(sensors, catalogue), frames[:half], states)
    old = {k: _as_version_1(v) for k, v in states.items()}
    assert all(len(_SensorState._parts(v)[2]) > 2 for v in old.values())  # verdicts to carry

    expected = _run(Pipeline(sensors, catalogue), frames[half:], dict(states))
    got = _run(Pipeline(sensors, catalogue), frames[half:], old)
    assert got == expected
    assert any(b'"uct":false' in lines for lines in got)
    assert all(v.startswith(b"ORBITLINK-SENSOR-2\n") for v in old.values())


def test_bytes_that_are_no_sensor_state_are_refused():
    with pytest.raises(ValueError, match="bad magic"):
        _SensorState.from_bytes(b"ORBITLINK-SENSOR-9\n" + bytes(16), None)

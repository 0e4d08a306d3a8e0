"""The bulk encoder writes exactly the models' wire form, on real records of every kind."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from orbitlink.tracking.batches import TrackBatch, json_lines
from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors
from orbitlink.tracking.models import Association, TrackUpdate
from orbitlink.tracking.pipeline import Pipeline
from orbitlink.tracking.simulate import ScenarioSettings, simulate_scenario


@pytest.fixture(scope="module")
def results(catalog_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Every frame result of three minutes of the default sensor network."""
    scenario = tmp_path_factory.mktemp("scenario")
    simulate_scenario(catalog_dir, scenario, seed=0, settings=ScenarioSettings(duration_s=180.0))
    pipeline = Pipeline(
        read_sensors(scenario / "sensors.json"), Catalogue.from_path(scenario / "catalog")
    )
    states: dict[str, bytes] = {}
    out = []
    for frame in iter_frames_jsonl(scenario / "frames.jsonl"):
        result = pipeline.process(frame, states.get(frame.sensor_id))
        states[frame.sensor_id] = result.state
        out.append(result)
    return out


def _model_lines(records) -> bytes:
    return b"".join(r.to_json().encode() + b"\n" for r in records)


def _same_fields(bulk: bytes, records, model) -> None:
    lines = bulk.decode().splitlines()
    assert len(lines) == len(records)
    for line, record in zip(lines, records):
        mine, theirs = json.loads(line), json.loads(record.to_json())
        assert list(mine) == list(model.model_fields) == list(theirs)
        for name in model.model_fields:
            assert mine[name] == theirs[name], name
            assert type(mine[name]) is type(theirs[name]), name
        assert line == record.to_json()


def test_bulk_records_are_the_models_json_byte_for_byte(results):
    tracks = [t for r in results for t in r.tracks]
    associations = [a for r in results for a in r.associations]
    # The records cover what the contract has: every status, named tracks and UCTs,
    # ambiguous verdicts, near-stationary objects (no along-track time), runners-up and none.
    assert {t.status for t in tracks} == {"tentative", "confirmed", "coasting", "deleted"}
    assert any(t.det_id is None for t in tracks) and any(t.det_id for t in tracks)
    assert {a.uct for a in associations} == {True, False}
    assert any(a.ambiguous for a in associations)
    assert any(not a.uct and a.along_track_s is None for a in associations)
    assert any(a.runner_up_norad_id is not None for a in associations)
    assert any(a.name is None for a in associations)
    for result in results:
        bulk = result.tracks_json_lines()
        assert bulk == _model_lines(result.tracks)
        _same_fields(bulk, result.tracks, TrackUpdate)
        bulk = result.associations_json_lines()
        assert bulk == _model_lines(result.associations)
        _same_fields(bulk, result.associations, Association)
    text = json_lines(associations).decode()
    assert "NaN" not in text and "Infinity" not in text


def test_unvalidated_records_equal_validated_ones(results):
    """The tracker's and the correlator's records skip validation: they are what validating
    their fields gives, so a change of pydantic's internals shows here."""
    for result in results[:200]:
        for record in result.tracks:
            assert TrackUpdate.model_validate(record.model_dump()) == record
        for record in result.associations:
            assert Association.model_validate(record.model_dump()) == record


def test_columns_round_trip_and_refuse_non_finite_values(results):
    result = next(r for r in results if len(r.tracks) > 3)
    batch = TrackBatch.from_records(result.tracks)
    assert batch.to_json_lines() == result.tracks_json_lines()
    assert batch.records() == result.tracks
    picked = batch.take(np.array([2, 0]))
    assert picked.records() == [result.tracks[2], result.tracks[0]]
    assert batch.take(np.zeros(len(batch), bool)).to_json_lines() == b""
    confirmed = batch.with_status(np.arange(len(batch)) == 1, "confirmed")
    assert confirmed.records()[1] == result.tracks[1].model_copy(update={"status": "confirmed"})
    # Identifiers that need escaping (or UTF-8) are written as the models write them.
    odd = replace(
        batch,
        track_id=('q"1', "back\\slash", "tab\there", "sévère/\u2028", *batch.track_id[4:]),
        det_id=("\x01", None, "é", 'x"y', *batch.det_id[4:]),
    )
    assert odd.to_json_lines() == b"".join(r.to_json().encode() + b"\n" for r in odd.records())
    # Floats at the edges of their textual forms (signed zero, exponents both ways, the
    # extremes) are written as pydantic writes them.
    edges = [-0.0, 1.0, 1e16, 1e-7, 2.5e-5, 5e-324, 1.7976931348623157e308, 1 / 3, 1e22, -1e-300]
    cov = np.tile(np.resize(np.array(edges), 16).reshape(1, 4, 4), (len(batch), 1, 1))
    extreme = replace(batch, ra_rate_deg_s=np.resize(np.array(edges), len(batch)), covariance=cov)
    assert extreme.to_json_lines() == b"".join(
        r.to_json().encode() + b"\n" for r in extreme.records()
    )
    broken = TrackBatch.from_records(result.tracks)
    broken.ra_rate_deg_s[1] = math.nan
    with pytest.raises(ValueError, match="non-finite"):
        broken.to_json_lines()
    named = next(a for r in results for a in r.associations if not a.uct)
    with pytest.raises(ValueError, match="nan"):
        json_lines([named.model_copy(update={"score": math.nan})])

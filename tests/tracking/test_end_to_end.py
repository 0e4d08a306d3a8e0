"""Simulate a scenario from the real catalogue, run the whole pipeline offline, score it.

The thresholds are what a working engine must reach on this scenario; the figures measured
when this test was written are in docs/evaluation.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.evaluate import evaluate
from orbitlink.tracking.formats import iter_frames_jsonl, read_records, read_sensors
from orbitlink.tracking.models import Association
from orbitlink.tracking.offline import run_offline
from orbitlink.tracking.simulate import (
    DEFAULT_SENSORS,
    ScenarioSettings,
    simulate_scenario,
)
from orbitlink.tracking.verdicts import final_verdicts

# Ninety seconds of the default network, the LEO stare at 2 s: ~600 detections.
SETTINGS = ScenarioSettings(
    duration_s=90.0,
    sensors=tuple(p.replace(cadence_s=max(p.cadence_s, 2.0)) for p in DEFAULT_SENSORS),
)


@pytest.fixture(scope="module")
def scored(catalog_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    scenario = tmp_path_factory.mktemp("scenario")
    results = tmp_path_factory.mktemp("results")
    simulate_scenario(catalog_dir, scenario, seed=0, settings=SETTINGS)
    summary = run_offline(
        iter_frames_jsonl(scenario / "frames.jsonl"),
        read_sensors(scenario / "sensors.json"),
        Catalogue.from_path(scenario / "catalog" / "catalog.tle"),
        results,
        progress=False,
    )
    report = evaluate(scenario / "truth.json", results)
    print("\n" + report.to_table())
    return summary, report, results


def test_every_frame_is_processed(scored):
    summary, report, _ = scored
    assert summary.frames == report.n_frames
    assert summary.rejected_frames == summary.duplicate_frames == 0
    assert summary.detections == report.n_detections


def test_the_summary_counts_the_final_verdicts_written(scored):
    summary, _, results = scored
    final = final_verdicts(read_records(results / "associations.jsonl", Association))
    assert summary.tracks >= len(final) > 0
    assert summary.uct_tracks == sum(a.uct for a in final.values()) > 0
    assert summary.correlated_objects == {
        a.norad_id: a.name for a in final.values() if a.norad_id is not None
    }
    assert summary.associations > len(final)


def test_tracks_are_pure_and_real(scored):
    _, report, _ = scored
    assert report.n_confirmed >= 0.8 * report.n_objects_detected
    assert report.mean_purity >= 0.95
    assert report.false_track_rate <= 0.1
    assert report.tracks_per_object <= 1.3


def test_catalogued_objects_are_named_and_withheld_ones_are_ucts(scored):
    _, report, _ = scored
    assert report.correlation_precision >= 0.9
    # Verdicts the correlator is sure of must be right; the ones it flags ambiguous here are
    # MEV-2 docked to Intelsat 10-02, which no position can tell apart.
    assert report.correlation_precision_unambiguous >= 0.95
    assert report.correlation_recall_tracked >= 0.8
    assert report.uct_recall_tracked >= 0.5
    assert report.uct_precision >= 0.5


def test_gospa_is_mostly_localisation(scored):
    _, report, results = scored
    assert report.gospa_mean_arcsec < report.gospa_c_arcsec
    assert report.gospa_rms_localisation_arcsec < 20.0
    assert report.gospa_mean_false < 0.2
    assert (results / "evaluation.png").stat().st_size > 10_000
    json.dumps(report.to_dict())


def test_pipeline_settings_file_changes_only_what_it_names(tmp_path):
    from orbitlink.tracking.pipeline import PipelineSettings, load_pipeline_settings

    path = tmp_path / "settings.json"
    path.write_text('{"tracker": {"confirm_m": 3, "confirm_n": 4}, "correlate": false}')
    loaded = load_pipeline_settings(path)
    defaults = PipelineSettings()
    assert (loaded.tracker.confirm_m, loaded.tracker.confirm_n) == (3, 4)
    assert loaded.tracker.gate_probability == defaults.tracker.gate_probability
    assert loaded.correlation == defaults.correlation and loaded.correlate is False
    for text, message in [
        ('{"tracker": {"confirm_mm": 3}}', "confirm_mm"),
        ('{"trakcer": {}}', "trakcer"),
        ('{"tracker": {"gate_probability": 2.0}}', "tracker"),
        ('{"correlate": "yes"}', "correlate"),
        ("[1, 2]", "JSON object"),
        ("{", "not JSON"),
    ]:
        path.write_text(text)
        with pytest.raises(ValueError, match=message):
            load_pipeline_settings(path)

"""The offline commands as a user runs them: real IOD lines, the real site list and catalogue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from orbitlink.tracking.formats import read_records
from orbitlink.tracking.models import TrackUpdate

REPO_ROOT = Path(__file__).resolve().parents[2]


def _orbitlink(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orbitlink.stream.cli", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_iod_replay_skips_lines_of_unknown_sites_and_processes_the_rest(
    tmp_path, iod_dir, catalog_dir
):
    out = tmp_path / "out"
    run = _orbitlink(
        "replay",
        str(iod_dir / "IOD_data_compliant.txt"),
        "--offline",
        "--format",
        "iod",
        "--sites",
        str(iod_dir / "sites.txt"),
        "--catalog",
        str(catalog_dir),
        "--out",
        str(out),
        "--no-progress",
    )
    assert run.returncode == 0, run.stderr
    # Site 2007 and the lettered sites of the format page are not in the COSPAR list.
    assert "site '2007' is not in the site list" in run.stderr
    assert "skipped" in run.stderr
    summary = json.loads(run.stdout)
    assert summary["frames"] > 0 and summary["detections"] >= summary["frames"]
    assert summary["rejected_frames"] == 0
    assert (out / "tracks.jsonl").exists() and (out / "associations.jsonl").exists()
    read_records(out / "tracks.jsonl", TrackUpdate)


def test_offline_replay_of_a_malformed_frames_file_names_the_bad_line(tmp_path):
    frames = tmp_path / "frames.jsonl"
    good = {
        "frame_id": "f1",
        "sensor_id": "s1",
        "time": "2026-05-31T04:20:00Z",
        "detections": [{"ra_deg": 10.0, "dec_deg": 5.0}],
    }
    frames.write_text(
        json.dumps(good)
        + "\n"
        + "{not json\n"
        + json.dumps(
            {
                **good,
                "frame_id": "f2",
                "time": "2026-05-31T04:20:05Z",
                "detections": [{"ra_deg": 10.0, "dec_deg": 95.0}],
            }
        )
        + "\n"
    )
    sensors = tmp_path / "sensors.json"
    sensors.write_text(
        json.dumps([{"sensor_id": "s1", "lat_deg": 31.96, "lon_deg": -111.6, "alt_m": 2100}])
    )
    run = _orbitlink(
        "replay",
        str(frames),
        "--offline",
        "--sensors",
        str(sensors),
        "--out",
        str(tmp_path / "out"),
        "--no-progress",
    )
    assert run.returncode == 0, run.stderr
    assert "line 2" in run.stderr and "line 3" in run.stderr and "dec_deg" in run.stderr
    assert json.loads(run.stdout)["frames"] == 1

"""The one entry point: format detection and read_observations over every format."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from orbitlink.tracking.formats import (
    FormatError,
    Reject,
    detect_format,
    read_observations,
    write_frames_jsonl,
    write_sensors,
    write_tdm,
    write_udl,
)
from orbitlink.tracking.formats.iod import load_sites
from orbitlink.tracking.models import Frame


@pytest.fixture(scope="module")
def iod_frames(iod_dir: Path) -> tuple[list[Frame], dict]:
    frames, sensors = read_observations(
        iod_dir / "IOD_data_compliant.txt", "iod", sites=iod_dir / "sites.txt", rejects=[]
    )
    return frames, sensors


def test_detect_every_format(tmp_path: Path, iod_dir: Path, iod_frames: tuple) -> None:
    frames, sensors = iod_frames
    write_frames_jsonl(frames, tmp_path / "f.jsonl")
    write_frames_jsonl(frames, tmp_path / "f.jsonl.gz")
    write_udl(frames, tmp_path / "u.json")
    write_udl(frames, tmp_path / "u.jsonl", lines=True)
    write_tdm(frames, tmp_path / "t.tdm")
    shutil.copy(iod_dir / "IOD_data_compliant.txt", tmp_path / "obs.txt")
    expected = {
        "f.jsonl": "frames",
        "f.jsonl.gz": "frames",
        "u.json": "udl",
        "u.jsonl": "udl",
        "t.tdm": "tdm",
        "obs.txt": "iod",
    }
    for name, kind in expected.items():
        assert detect_format(tmp_path / name) == kind, name
    (tmp_path / "prose.txt").write_text("Dear SeeSat,\nclear skies tonight.\n")
    with pytest.raises(FormatError, match="cannot tell the format"):
        detect_format(tmp_path / "prose.txt")
    (tmp_path / "other.json").write_text(json.dumps([{"hello": 1}]))
    with pytest.raises(FormatError, match="neither frames"):
        detect_format(tmp_path / "other.json")
    noncompliant = iod_dir / "IOD_data_noncompliant.txt"
    with pytest.raises(FormatError, match="cannot tell"):  # none of its first lines is IOD
        detect_format(noncompliant)


def test_every_format_gives_the_same_frames(
    tmp_path: Path, iod_dir: Path, iod_frames: tuple
) -> None:
    frames, sensors = iod_frames
    assert set(sensors) >= {"2701", "9999"} and len(frames) == 10
    write_sensors([sensors["2701"], sensors["9999"]], tmp_path / "sensors.json")
    write_frames_jsonl(frames, tmp_path / "f.jsonl")
    write_udl(frames, tmp_path / "u.json")
    write_tdm(frames, tmp_path / "t.tdm")

    lazy, given = read_observations(tmp_path / "f.jsonl")
    assert not isinstance(lazy, list) and list(lazy) == frames and given == {}

    from_udl, udl_sensors = read_observations(tmp_path / "u.json")
    # UDL records place the site but do not name its observer
    assert udl_sensors["2701"] == sensors["2701"].model_copy(update={"name": None})
    from_udl, udl_sensors = read_observations(
        tmp_path / "u.json", sensors=tmp_path / "sensors.json"
    )
    assert from_udl == frames and udl_sensors["2701"] == sensors["2701"]

    from_tdm, _ = read_observations(tmp_path / "t.tdm", sensors=tmp_path / "sensors.json")
    assert [f.frame_id for f in from_tdm] == [f.frame_id for f in frames]
    for a, b in zip(from_tdm, frames):
        # a TDM carries no per-point noise: the detections take the sensor's sigma
        assert [d.det_id for d in a.detections] == [d.det_id for d in b.detections]
        for da, db in zip(a.detections, b.detections):
            assert da.ra_deg == pytest.approx(db.ra_deg, abs=1e-9)
            assert da.dec_deg == pytest.approx(db.dec_deg, abs=1e-9)
            assert da.mag == (None if db.mag is None else pytest.approx(db.mag))
            assert da.sigma_arcsec == sensors[a.sensor_id].sigma_arcsec


def test_rejects_and_required_sites(tmp_path: Path, iod_dir: Path) -> None:
    with pytest.raises(FormatError, match="need a site list"):
        read_observations(iod_dir / "IOD_data_compliant.txt", "iod")
    # strict: the first refused observation stops the read, naming the file and its line
    with pytest.raises(FormatError, match="not in the site list") as info:
        read_observations(
            iod_dir / "IOD_data_compliant.txt", "iod", sites=load_sites(iod_dir / "sites.txt")
        )
    assert info.value.source == str(iod_dir / "IOD_data_compliant.txt")
    lines = (iod_dir / "IOD_data_compliant.txt").read_text().splitlines()
    assert info.value.line_no is not None
    assert info.value.text == lines[info.value.line_no - 1].rstrip()
    with pytest.raises(TypeError, match="rejects must be a list"):
        read_observations(iod_dir / "IOD_data_compliant.txt", "iod", rejects=True)
    mixed = tmp_path / "mixed.jsonl"
    good = Frame(frame_id="a", sensor_id="s", time="2026-05-30T00:00:00Z").to_json()
    mixed.write_text(good + "\n{broken\n" + good.replace('"a"', '"b"') + "\n")
    rejects: list[Reject] = []
    frames, _ = read_observations(mixed, rejects=rejects)
    assert [f.frame_id for f in frames] == ["a", "b"] and [r.line_no for r in rejects] == [2]
    with gzip.open(tmp_path / "mixed.jsonl.gz", "wt") as handle:
        handle.write(mixed.read_text())
    assert [f.frame_id for f in read_observations(tmp_path / "mixed.jsonl.gz", rejects=[])[0]] == [
        "a",
        "b",
    ]
    with pytest.raises(ValueError, match="format must be one of"):
        read_observations(mixed, "csv")  # type: ignore[arg-type]
